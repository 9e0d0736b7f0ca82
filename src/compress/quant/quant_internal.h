/* Shared by the (de)quantization files: argument checks with messages. */
#ifndef PARE_QUANT_INTERNAL_H
#define PARE_QUANT_INTERNAL_H

#include "pare/quant.h"

/* Check that fn has a routine for type (have) and that n is a whole number
 * of blocks; on failure set err naming the caller `who`. Returns the block
 * count in *nb. */
pare_status pare_quant_check_row(const char *who, pare_qtype type, bool have, int64_t n,
                                 int64_t *nb, pare_err *err);

#endif
