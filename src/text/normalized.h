/* Normalized strings with alignments to the original text (HF's
 * NormalizedString and PreTokenizedString), kept in one arena per encode.
 *
 * Every byte of normalized text carries the original byte span [s, e) it
 * came from (absolute offsets into the input). A piece is a slice of the
 * arena plus the original span it covers; splitting a piece makes slices
 * that share its bytes, transforming it writes new bytes at the arena's end.
 * An encode uses one ns_buf, reused across calls on the same thread. */
#ifndef MLM_TEXT_NORMALIZED_H
#define MLM_TEXT_NORMALIZED_H

#include <stddef.h>

#include "mlm/core.h"
#include <stdint.h>

typedef struct ns_align {
    uint32_t s, e;
} ns_align;

typedef struct ns_piece {
    size_t off;              /* first byte in the arena */
    uint32_t len;            /* bytes */
    uint32_t orig_s, orig_e; /* original span (HF's original_shift and its end) */
    int32_t added_id;        /* id of the added token this piece is, or -1 */
} ns_piece;

/* A match or split produced by a pattern: [s, e) in a piece's text. */
typedef struct ns_span {
    uint32_t s, e;
    uint8_t flag; /* is_match while matching; "remove" after a behavior */
} ns_span;

typedef enum split_behavior {
    SPLIT_REMOVED = 0,
    SPLIT_ISOLATED,
    SPLIT_MERGED_WITH_PREVIOUS,
    SPLIT_MERGED_WITH_NEXT,
    SPLIT_CONTIGUOUS
} split_behavior;

typedef struct ns_buf {
    char *text;
    ns_align *al;
    size_t len, cap;
    ns_piece *p; /* the current pieces */
    size_t n, pcap;
    ns_piece *next; /* pieces being built by a split */
    size_t nnext, ncap;
    int32_t *tcp, *tchg; /* the pending transformation: (char, change) */
    size_t tn, tcap;
    ns_span *sp; /* matches of the pattern being applied */
    size_t nsp, spcap;
    size_t limit;  /* the most bytes the buffer may grow to (see ns_start) */
    int too_long;  /* set when a normalizer tried to grow past limit */
} ns_buf;

/* The buffer keeps every intermediate form of the text; it may hold at most
 * FACTOR x the input + FLOOR bytes. */
#define NS_GROWTH_FACTOR 128
#define NS_GROWTH_FLOOR ((size_t)1 << 20)

/* Room for `extra` more bytes of text and alignments. 0, or -1 when out of
 * memory or past the growth limit (then too_long is set). */
int ns_reserve(ns_buf *b, size_t extra);

/* The status for a failed normalization step: MLM_ERR_RANGE with a message
 * when the growth limit was hit, else out of memory. */
mlm_status ns_error(const ns_buf *b);

void ns_free(ns_buf *b);

/* Start over with the original text as a single piece. 0, or -1 (OOM). */
int ns_start(ns_buf *b, const char *text, size_t len);

static inline const char *ns_text(const ns_buf *b, const ns_piece *p)
{
    return b->text + p->off;
}

/* The pending transformation, applied by ns_transform(). */
static inline void ns_tclear(ns_buf *b)
{
    b->tn = 0;
}
int ns_tpush(ns_buf *b, int32_t cp, int32_t change);

/* Replace piece *pc by the pending transformation, as HF's
 * NormalizedString::transform(dest, initial_offset) does: a char with a
 * positive change is inserted (aligned as the byte before it), others
 * replace the next char (and, when negative, remove that many more).
 * 0 or -1 (OOM). */
int ns_transform(ns_buf *b, ns_piece *pc, size_t initial_offset);

/* Splitting: between begin and end, emit the new pieces (empty slices are
 * dropped, as PreTokenizedString::split does); end makes them current. */
static inline void ns_split_begin(ns_buf *b)
{
    b->nnext = 0;
}
int ns_keep(ns_buf *b, const ns_piece *pc);
int ns_emit(ns_buf *b, const ns_piece *parent, uint32_t s, uint32_t e);
void ns_split_end(ns_buf *b);

/* Matches (b->sp) of a character predicate (each char a match), of a
 * literal string, as HF's Pattern impls compute them. 0 or -1. */
int ns_match_pred(ns_buf *b, const char *s, uint32_t len, int (*pred)(int32_t, const void *),
                  const void *ctx);
int ns_match_literal(ns_buf *b, const char *s, uint32_t len, const char *pat, size_t plen);
int ns_span_push(ns_buf *b, uint32_t s, uint32_t e, int flag);
/* Flip the match flags (Split's invert). */
void ns_match_invert(ns_buf *b);

/* Turn the matches into splits by behavior and emit them from parent. */
int ns_split_matches(ns_buf *b, const ns_piece *parent, split_behavior behavior);

/* Original span of the normalized range [s, e) of a piece, as
 * NormalizedString::convert_offsets + original_shift give it. */
void ns_orig_span(const ns_buf *b, const ns_piece *pc, uint32_t s, uint32_t e, uint32_t *os,
                  uint32_t *oe);

#endif
