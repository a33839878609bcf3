"""The tandem integration lab: namespaces, real FRR/BIRD peers, tandemd, a Python BGP
speaker. Standard library only (Debian's python3). See tests/integration/README.md."""

from .util import SKIP_RC, LabError, Skip, WaitTimeout, log, require_root, run, wait_until
from .netns import Lab, Node, in_netns
from .frr import FrrRouter
from .bird import BirdRouter
from .tandem import TandemNode, TandemState

__all__ = ["SKIP_RC", "LabError", "Skip", "WaitTimeout", "log", "require_root", "run", "wait_until",
           "Lab", "Node", "in_netns", "FrrRouter", "BirdRouter", "TandemNode", "TandemState"]
