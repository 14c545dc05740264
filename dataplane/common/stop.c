/* common/stop.h's one variable. */
#include "common/stop.h"

_Atomic uint32_t etls_drain_timeout_ms_plus1;
_Atomic int etls_log_level_plus1;
