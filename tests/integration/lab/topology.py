"""The lab topology shared by tests, `make demo` and etc/lab/ (keep them in step).

    192.0.2.0/24, 2001:db8::/64 on one bridge (documentation ranges, namespaces only)

    tandem   192.0.2.1  2001:db8::1   AS 4200000100   tandemd
    frr      192.0.2.2  2001:db8::2   AS 4200000100   FRR (iBGP to tandemd)
    bird     192.0.2.3  2001:db8::3   AS 4200000200   BIRD 2 (eBGP)
    spk      192.0.2.4  2001:db8::4   AS 4200000300   Python speaker (eBGP)
    bird2    192.0.2.5  2001:db8::5   AS 4200000500   a second BIRD 2 (eBGP), added by tests
                                                        that need two (test_gr_transit)
    standby  192.0.2.11 2001:db8::11  AS 4200000100   (reserved: the standby tandemd)

Each peer has two sessions with tandemd: one over IPv4 carrying ipv4-unicast, one over
IPv6 carrying ipv6-unicast. Route space: FRR originates from 10.64.0.0/10 and
2001:db8:1000::/36, BIRD from 10.200.0.0/16 and 2001:db8:2000::/36, the speaker from
10.50.0.0/16 and 2001:db8:5000::/36, tandemd itself 198.51.100.0/24 and 2001:db8:f000::/48.
"""

from dataclasses import dataclass

from .bird import BirdRouter
from .frr import FrrRouter
from .tandem import TandemNode


@dataclass(frozen=True)
class Host:
    name: str
    v4: str
    v6: str
    asn: int


TANDEM = Host("tandem", "192.0.2.1", "2001:db8::1", 4200000100)
FRR = Host("frr", "192.0.2.2", "2001:db8::2", 4200000100)
BIRD = Host("bird", "192.0.2.3", "2001:db8::3", 4200000200)
SPEAKER = Host("spk", "192.0.2.4", "2001:db8::4", 4200000300)
BIRD2 = Host("bird2", "192.0.2.5", "2001:db8::5", 4200000500)
STANDBY = Host("standby", "192.0.2.11", "2001:db8::11", 4200000100)

TANDEM_NETWORKS = ["198.51.100.0/24", "2001:db8:f000::/48"]


def add_host(lab, host):
    return lab.add_node(host.name, host.v4, host.v6)


class StandardLab:
    """tandemd with (optionally) FRR and BIRD peers, configured per the table above but
    not started: tests add routes/options, then call start()."""

    def __init__(self, lab, tandemd_bin, frr=True, bird=True, speaker=False, tandem_networks=True):
        self.lab = lab
        self.tnode = add_host(lab, TANDEM)
        self.fnode = add_host(lab, FRR) if frr else None
        self.bnode = add_host(lab, BIRD) if bird else None
        self.snode = add_host(lab, SPEAKER) if speaker else None
        lab.wait_links()
        self.tandem = TandemNode(self.tnode, tandemd_bin, local_as=TANDEM.asn)
        self.frr = self.bird = None
        if frr:
            self.tandem.add_peer(FRR.v4, FRR.asn, "FRR v4 (iBGP)")
            self.tandem.add_peer(FRR.v6, FRR.asn, "FRR v6 (iBGP)")
            self.frr = FrrRouter(self.fnode, FRR.asn)
            self.frr.add_neighbor(TANDEM.v4, TANDEM.asn, description="tandemd-v4")
            self.frr.add_neighbor(TANDEM.v6, TANDEM.asn, description="tandemd-v6")
        if bird:
            self.tandem.add_peer(BIRD.v4, BIRD.asn, "BIRD v4 (eBGP)")
            self.tandem.add_peer(BIRD.v6, BIRD.asn, "BIRD v6 (eBGP)")
            self.bird = BirdRouter(self.bnode, BIRD.asn)
            self.bird.add_peer("tandem4", BIRD.v4, TANDEM.v4, TANDEM.asn)
            self.bird.add_peer("tandem6", BIRD.v6, TANDEM.v6, TANDEM.asn)
        if tandem_networks:
            self.tandem.add_network(TANDEM_NETWORKS[0], communities=["4200:1"],
                                    large_communities=["4200000100:0:1"], med=10)
            self.tandem.add_network(TANDEM_NETWORKS[1], communities=["4200:1"],
                                    large_communities=["4200000100:0:1"], med=10)

    def start(self, timeout=30):
        """Start everything and wait for every session to be Established on both ends."""
        self.tandem.start()
        if self.frr:
            self.frr.start()
        if self.bird:
            self.bird.start()
        self.wait_established(timeout)

    def wait_established(self, timeout=30):
        if self.frr:
            self.frr.wait_established(TANDEM.v4, timeout)
            self.frr.wait_established(TANDEM.v6, timeout)
            self.tandem.wait_peer(FRR.v4, timeout=timeout)
            self.tandem.wait_peer(FRR.v6, timeout=timeout)
        if self.bird:
            self.bird.wait_established("tandem4", timeout)
            self.bird.wait_established("tandem6", timeout)
            self.tandem.wait_peer(BIRD.v4, timeout=timeout)
            self.tandem.wait_peer(BIRD.v6, timeout=timeout)
