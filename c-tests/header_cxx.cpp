// The header must be usable from C++ servers too.
#include "xmpp_sic.h"

static_assert(sizeof(sic_status) == 4, "sic_status is 4 bytes");
static_assert(SIC_STATUS_OK == 0 && SIC_STATUS_PANIC == 6, "status values are fixed");
constexpr unsigned all_flags = SIC_FLAG_OMIT_PORT | SIC_FLAG_KEEP_V4_MAPPED | SIC_FLAG_NO_SIC0;
static_assert(all_flags == 7, "flags are distinct bits");

int main() { return sic_abi_version() == SIC_ABI_VERSION ? 0 : 1; }
