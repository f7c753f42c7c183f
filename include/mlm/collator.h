/* placeholder */
#ifndef MLM_COLLATOR_H
#define MLM_COLLATOR_H
#include "mlm/dataset.h"
#endif
