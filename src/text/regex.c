/* Oniguruma wrapper; see regex.h. */
#include "text/regex.h"

#include <oniguruma.h>
#include <pthread.h>

#include "core/alloc.h"
#include "core/error.h"
#include "text/unicode.h"

struct regex {
    regex_t *re;
};

static pthread_once_t onig_once = PTHREAD_ONCE_INIT;

static void regex_init_once(void)
{
    OnigEncoding enc[1] = {ONIG_ENCODING_UTF8};
    onig_initialize(enc, 1);
}

mlm_status regex_compile(const char *pattern, size_t len, regex **out)
{
    *out = NULL;
    pthread_once(&onig_once, regex_init_once);
    regex *r = mem_calloc(1, sizeof *r);
    if (!r) return err_oom();
    OnigErrorInfo einfo;
    const UChar *p = (const UChar *)pattern;
    int rc = onig_new(&r->re, p, p + len, ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                      ONIG_SYNTAX_DEFAULT, &einfo);
    if (rc != ONIG_NORMAL) {
        UChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
        onig_error_code_to_str(msg, rc, &einfo);
        mem_free(r);
        return err_set(MLM_ERR_FORMAT, "invalid regex: %s", (const char *)msg);
    }
    *out = r;
    return MLM_OK;
}

void regex_free(regex *re)
{
    if (!re) return;
    onig_free(re->re);
    mem_free(re);
}

int regex_find_matches(const regex *re, ns_buf *b, const char *s, uint32_t len)
{
    b->nsp = 0;
    if (len == 0) return ns_span_push(b, 0, 0, 0);
    OnigRegion *region = onig_region_new();
    if (!region) return -1;
    const UChar *str = (const UChar *)s, *end = str + len;
    uint32_t prev = 0, last_end = 0;
    long last_match_end = -1;
    int rc = 0;
    while (last_end <= len) {
        int r = onig_search(re->re, str, end, str + last_end, end, region, ONIG_OPTION_NONE);
        if (r == ONIG_MISMATCH) break;
        if (r < 0) {
            rc = -1;
            break;
        }
        uint32_t ms = (uint32_t)region->beg[0], me = (uint32_t)region->end[0];
        if (ms == me && last_match_end == (long)me) {
            last_end += last_end < len ? (uint32_t)utf8_len_of((unsigned char)s[last_end]) : 1;
            continue;
        }
        last_end = me;
        last_match_end = me;
        if (prev != ms && ns_span_push(b, prev, ms, 0)) {
            rc = -1;
            break;
        }
        if (ns_span_push(b, ms, me, 1)) {
            rc = -1;
            break;
        }
        prev = me;
    }
    onig_region_free(region, 1);
    if (rc) return rc;
    if (prev != len && ns_span_push(b, prev, len, 0)) return -1;
    return 0;
}
