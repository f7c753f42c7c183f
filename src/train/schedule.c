/* The linear schedule with warmup (see schedule.h). */
#include "train/schedule.h"

double lr_linear_warmup(int64_t step, int64_t warmup, int64_t total)
{
    if (step < warmup)
        return (double)step / (double)(warmup > 1 ? warmup : 1);
    int64_t span = total - warmup > 1 ? total - warmup : 1;
    double r = (double)(total - step) / (double)span;
    return r > 0 ? r : 0.0;
}
