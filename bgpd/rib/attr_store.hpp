// Interned path attributes: one immutable, shared copy per distinct attribute set.
// A full table has ~1M prefixes but only a few hundred thousand attribute sets.
#pragma once

#include <cstdint>
#include <memory>

#include "bgpd/wire/attributes.hpp"

namespace tandem::rib {

using wire::PathAttributes;

}  // namespace tandem::rib
