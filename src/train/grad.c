/* The f32 training ops (include/pare/grad.h): grad_body.h built for the
 * baseline ISA. */
#define SUF
#include "train/grad_f32.h"
