/* The learning-rate schedule of transformers' Trainer (lr_scheduler_type
 * "linear", optimization.py's get_linear_schedule_with_warmup). Every
 * optimizer kind reads it the same way: the Trainer's LambdaLR writes each
 * parameter group's "lr" before a step, and AdamW (both) and Adafactor
 * (relative_step False) use that "lr". */
#ifndef MLM_TRAIN_SCHEDULE_H
#define MLM_TRAIN_SCHEDULE_H

#include <stdint.h>

/* get_linear_schedule_with_warmup's multiplier at `step` (0 before the first
 * update): step/warmup during warmup, then max(0, (total − step)/(total −
 * warmup)). The learning rate of an update is lr · this, where step counts
 * the updates already done (so the first update with warmup ≥ 1 uses lr 0,
 * as the Trainer does). */
double lr_linear_warmup(int64_t step, int64_t warmup, int64_t total);

#endif
