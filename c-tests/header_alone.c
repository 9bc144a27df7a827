/* The header compiles on its own as strict C99, with nothing included first. */
#include "xmpp_sic.h"

sic_status header_alone_compiles(void);
