#include "core/utf8.h"

int utf8_valid(const char *s, size_t len, size_t *bad)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = u[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) n = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            *bad = i;
            return 0;
        }
        if (i + n > len || u[i + 1] < lo || u[i + 1] > hi) {
            *bad = i;
            return 0;
        }
        for (size_t k = 2; k < n; k++)
            if ((u[i + k] & 0xC0) != 0x80) {
                *bad = i;
                return 0;
            }
        i += n;
    }
    return 1;
}
