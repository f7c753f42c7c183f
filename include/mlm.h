/*
 * libmlm — masked-language-modeling in C, with Hugging Face parity.
 *
 * This is the one header an application includes. It pulls in the public
 * header family under mlm/; nothing outside include/ is published API, and
 * the shared library exports exactly the mlm_* functions declared here.
 */
#ifndef MLM_H
#define MLM_H

#include "mlm/core.h"
#include "mlm/tokenizer.h"
#include "mlm/dataset.h"
#include "mlm/collator.h"
#include "mlm/model.h"
#include "mlm/generation.h"
#include "mlm/pipeline.h"
#include "mlm/optimizer.h"
#include "mlm/trainer.h"
#include "mlm/metrics.h"

#endif /* MLM_H */
