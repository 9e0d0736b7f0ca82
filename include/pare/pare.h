/* pare: make transformer models smaller and faster, and measure what it costs. */
#ifndef PARE_H
#define PARE_H

#include "pare/core.h"
#include "pare/io.h"
#include "pare/kernels.h"
#include "pare/qlinear.h"
#include "pare/qtypes.h"
#include "pare/quant.h"
#include "pare/gguf.h"
#include "pare/tokenize.h"
#include "pare/wquant.h"
#include "pare/bert.h"
#include "pare/generate.h"
#include "pare/llama.h"
#include "pare/bpe.h"
#include "pare/dataset.h"
#include "pare/train.h"
#include "pare/grad.h"
#include "pare/prune.h"
#include "pare/sparse.h"
#include "pare/experiment.h"

#define PARE_VERSION "0.1.0"

#endif
