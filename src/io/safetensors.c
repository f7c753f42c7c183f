#include "io/safetensors.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/file.h"
#include "io/strbuf.h"

/* tensor.rs: MAX_HEADER_SIZE. Bounds what a hostile size field can make us
 * parse (attacks/README.md: "huge header"). */
#define ST_MAX_HEADER 100000000u

/* cJSON spends a node (~80 bytes of heap, more with a key) on every JSON
 * value, so a 100 MB header of "[0,0,0,..." would cost ~4 GB ("huge JSON").
 * A real header has 6 values per tensor plus one per dimension (BERT-base:
 * ~1,700); 2^22 values is over 400,000 tensors and caps the tree at a few
 * hundred MB. This is our limit, not tensor.rs's. Index files get the same. */
#define ST_MAX_JSON_VALUES ((size_t)1 << 22)

static const char *const dtype_names[ST_DTYPE_COUNT] = {
    "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
    "BF16", "I32", "U32", "F32", "F64", "I64", "U64",
};
static const unsigned char dtype_sizes[ST_DTYPE_COUNT] = {1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8};

const char *st_dtype_name(st_dtype d) { return (unsigned)d < ST_DTYPE_COUNT ? dtype_names[d] : "?"; }

size_t st_dtype_size(st_dtype d) { return (unsigned)d < ST_DTYPE_COUNT ? dtype_sizes[d] : 0; }

int st_dtype_from_name(const char *name, st_dtype *out)
{
    for (int i = 0; i < ST_DTYPE_COUNT; i++)
        if (strcmp(name, dtype_names[i]) == 0) {
            *out = (st_dtype)i;
            return 1;
        }
    return 0;
}

struct st_file {
    char *name;
    mapped_file map;
    const uint8_t *bytes;
    size_t size;
    size_t data_start;   /* 8 + N */
    st_tensor *tensors;  /* by offset */
    size_t count;
    size_t *by_name;     /* indices into tensors, by name */
    char **names;        /* owned names, freed with the file */
    uint64_t *dims;      /* every tensor's shape, back to back */
    char **meta_keys;    /* by key */
    char **meta_values;
    size_t nmeta;
};

/* "[30522, 768]", cut short with "..." when it does not fit. */
static const char *fmt_shape(char *buf, size_t cap, const uint64_t *shape, size_t ndim)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (size_t i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%" PRIu64, i ? ", " : "", shape[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
    if (n >= cap - 1 && cap > 4)
        memcpy(buf + cap - 5, "...]", 5);
    return buf;
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* ---------------------------------------------------------------- header */

static int name_cmp_idx(const st_file *f, size_t a, const char *name)
{
    return strcmp(f->tensors[a].name, name);
}

static _Thread_local const st_file *tl_file;

static int by_name_cmp(const void *a, const void *b)
{
    return strcmp(tl_file->tensors[*(const size_t *)a].name, tl_file->tensors[*(const size_t *)b].name);
}

static int by_offset_cmp(const void *a, const void *b)
{
    const st_tensor *x = a, *y = b;
    /* tensor.rs sorts by the (begin, end) pair; nbytes == end - begin here. */
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    if (x->nbytes != y->nbytes)
        return x->nbytes < y->nbytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int member_cmp(const void *a, const void *b)
{
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* Copied out of the JSON tree, by key. */
static mlm_status parse_metadata(st_file *f, const cJSON *v)
{
    if (cJSON_IsNull(v))
        return MLM_OK;
    if (!cJSON_IsObject(v))
        return err_set(MLM_ERR_FORMAT, "%s: '__metadata__' is %s, not an object of strings", f->name,
                       json_type_name(v));
    size_t n = json_len(v), i = 0;
    const cJSON **by_key = mem_alloc((n ? n : 1) * sizeof *by_key);
    f->meta_keys = mem_calloc(n, sizeof *f->meta_keys);
    f->meta_values = mem_calloc(n, sizeof *f->meta_values);
    mlm_status s = by_key && f->meta_keys && f->meta_values ? MLM_OK : err_oom();
    for (const cJSON *e = v->child; e && s == MLM_OK; e = e->next)
        by_key[i++] = e;
    if (s == MLM_OK)
        qsort(by_key, n, sizeof *by_key, member_cmp);
    for (i = 0; i < n && s == MLM_OK; i++, f->nmeta++) {
        const cJSON *e = by_key[i];
        if (!cJSON_IsString(e))
            s = err_set(MLM_ERR_FORMAT,
                        "%s: '__metadata__' key '%s' maps to %s, but metadata values must be strings",
                        f->name, e->string, json_type_name(e));
        else if (!(f->meta_keys[i] = mem_strdup(e->string)) ||
                 !(f->meta_values[i] = mem_strdup(e->valuestring)))
            s = err_oom(); /* st_close frees the key copied */
    }
    mem_free(by_key);
    return s;
}

static mlm_status get_u64(const st_file *f, const char *tname, const char *field, const cJSON *v,
                          uint64_t *out)
{
    int64_t i = 0;
    int r = json_int(v, &i);
    char num[32];
    if (r == 0 || v->valuedouble < 0)
        return err_set(MLM_ERR_FORMAT, "%s: tensor '%s': %s must hold non-negative integers, found %s",
                       f->name, tname, field, json_describe(v, num));
    /* cJSON reads numbers as doubles: exact below 2^53 (4 PiB of data), no
     * file reaches that. */
    if (r < 0 || (uint64_t)i > SIZE_MAX)
        return err_set(MLM_ERR_FORMAT,
                       "%s: tensor '%s': %s value %s is too large to represent exactly (JSON numbers "
                       "are read as doubles, exact below 2^53)",
                       f->name, tname, field, json_describe(v, num));
    *out = (uint64_t)i;
    return MLM_OK;
}

/* The three fields of a tensor entry (member `m`, named `tn`), each checked
 * for type and range. */
static mlm_status parse_tensor(st_file *f, const cJSON *m, const char *tn, st_tensor *t,
                               uint64_t **dims_next)
{
    if (!cJSON_IsObject(m))
        return err_set(MLM_ERR_FORMAT, "%s: tensor '%s' is %s, not an object", f->name, tn,
                       json_type_name(m));
    for (const cJSON *e = m->child; e; e = e->next) {
        const char *k = e->string;
        if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets"))
            return err_set(MLM_ERR_FORMAT,
                           "%s: tensor '%s': unknown field '%s' (expected only dtype, shape, "
                           "data_offsets)",
                           f->name, tn, k);
    }
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(m, "dtype"),
                *sh = cJSON_GetObjectItemCaseSensitive(m, "shape"),
                *off = cJSON_GetObjectItemCaseSensitive(m, "data_offsets");
    const char *missing = !dt ? "dtype" : !sh ? "shape" : !off ? "data_offsets" : NULL;
    if (missing)
        return err_set(MLM_ERR_FORMAT, "%s: tensor '%s' has no '%s'", f->name, tn, missing);
    int dt_str = cJSON_IsString(dt);
    if (!dt_str || !st_dtype_from_name(dt->valuestring, &t->dtype))
        return err_set(MLM_ERR_FORMAT, "%s: tensor '%s': unknown dtype %s%.40s%s", f->name, tn,
                       dt_str ? "'" : "", dt_str ? dt->valuestring : "",
                       dt_str ? "'" : json_type_name(dt));
    size_t ndim = json_len(sh), noff = json_len(off);
    if (!cJSON_IsArray(sh))
        return err_set(MLM_ERR_FORMAT, "%s: tensor '%s': shape is %s, not an array", f->name, tn,
                       json_type_name(sh));
    if (!cJSON_IsArray(off) || noff != 2)
        return err_set(MLM_ERR_FORMAT, "%s: tensor '%s': data_offsets must be [begin, end], found %s%s",
                       f->name, tn, cJSON_IsArray(off) ? "an array of " : "",
                       cJSON_IsArray(off) ? (noff < 2 ? "fewer than 2 numbers" : "more than 2 numbers")
                                          : json_type_name(off));
    t->name = tn;
    t->file = f->name;
    t->ndim = ndim;
    t->shape = *dims_next;
    uint64_t *dims = *dims_next;
    *dims_next += ndim;
    mlm_status s;
    uint64_t *dim = dims;
    for (const cJSON *d = sh->child; d; d = d->next)
        if ((s = get_u64(f, tn, "shape", d, dim++)) != MLM_OK)
            return s;
    uint64_t begin, end;
    if ((s = get_u64(f, tn, "data_offsets", off->child, &begin)) != MLM_OK ||
        (s = get_u64(f, tn, "data_offsets", off->child->next, &end)) != MLM_OK)
        return s;
    char shp[160];
    if (begin > end)
        return err_set(MLM_ERR_FORMAT, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                       ") end before they begin",
                       f->name, tn, begin, end);
    /* Overflow-checked, as tensor.rs's validate (ValidationOverflow). */
    uint64_t numel = 1, nbytes;
    for (size_t i = 0; i < t->ndim; i++)
        if (__builtin_mul_overflow(numel, dims[i], &numel))
            return err_set(MLM_ERR_FORMAT, "%s: tensor '%s': shape %s overflows 64 bits", f->name, tn,
                           fmt_shape(shp, sizeof shp, dims, t->ndim));
    if (__builtin_mul_overflow(numel, (uint64_t)st_dtype_size(t->dtype), &nbytes))
        return err_set(MLM_ERR_FORMAT, "%s: tensor '%s': shape %s x %s overflows 64 bits", f->name, tn,
                       fmt_shape(shp, sizeof shp, dims, t->ndim), st_dtype_name(t->dtype));
    if (end - begin != nbytes)
        return err_set(MLM_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                       ") do not match shape %s x %s (%" PRIu64 " bytes)",
                       f->name, tn, begin, end, fmt_shape(shp, sizeof shp, dims, t->ndim),
                       st_dtype_name(t->dtype), nbytes);
    t->numel = numel;
    t->nbytes = (size_t)nbytes;
    t->offset = (size_t)begin;
    return MLM_OK;
}

/* tensor.rs's validate: sorted by offset, the tensors tile the data buffer
 * from 0 with no hole and no overlap, and the buffer ends the file. */
static mlm_status check_tiling(st_file *f)
{
    qsort(f->tensors, f->count, sizeof *f->tensors, by_offset_cmp);
    size_t at = 0;
    for (size_t i = 0; i < f->count; i++) {
        const st_tensor *t = &f->tensors[i];
        if (t->offset > at)
            return err_set(MLM_ERR_FORMAT,
                           "%s: data bytes [%zu, %zu) belong to no tensor: tensor '%s' begins at %zu, "
                           "but %s",
                           f->name, at, t->offset, t->name, t->offset,
                           i ? "the tensor before it ends earlier" : "the data buffer begins at 0");
        if (t->offset < at)
            return err_set(MLM_ERR_FORMAT,
                           "%s: tensor '%s': data_offsets [%zu, %zu) overlap tensor '%s' [%zu, %zu)",
                           f->name, t->name, t->offset, t->offset + t->nbytes, f->tensors[i - 1].name,
                           f->tensors[i - 1].offset, f->tensors[i - 1].offset + f->tensors[i - 1].nbytes);
        at = t->offset + t->nbytes;
    }
    size_t have = f->size - f->data_start;
    if (at != have)
        return err_set(MLM_ERR_FORMAT,
                       "%s: the tensors cover %zu data bytes, but the file has %zu after the %zu-byte "
                       "header (file size %zu, expected %zu)",
                       f->name, at, have, f->data_start - 8, f->size,
                       at <= SIZE_MAX - f->data_start ? at + f->data_start : SIZE_MAX);
    for (size_t i = 0; i < f->count; i++)
        f->tensors[i].data = f->bytes + f->data_start + f->tensors[i].offset;
    return MLM_OK;
}

static int is_metadata(const cJSON *m) { return strcmp(m->string, "__metadata__") == 0; }

static mlm_status build_tensors(st_file *f, const cJSON *root)
{
    size_t ntensors = 0, ndims = 0;
    for (const cJSON *m = root->child; m; m = m->next) {
        if (is_metadata(m))
            continue;
        ntensors++;
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(m, "shape");
        if (cJSON_IsObject(m) && cJSON_IsArray(sh))
            ndims += json_len(sh);
    }
    f->tensors = mem_calloc(ntensors, sizeof *f->tensors);
    f->names = mem_calloc(ntensors, sizeof *f->names);
    f->dims = mem_calloc(ndims, sizeof *f->dims);
    if (!f->tensors || !f->names || !f->dims)
        return err_oom();
    uint64_t *dims_next = f->dims;
    for (const cJSON *m = root->child; m; m = m->next) {
        mlm_status s;
        if (is_metadata(m)) {
            s = parse_metadata(f, m);
        } else if (!(f->names[f->count] = mem_strdup(m->string))) {
            s = err_oom();
        } else {
            f->count++; /* st_close frees the name */
            s = parse_tensor(f, m, f->names[f->count - 1], &f->tensors[f->count - 1], &dims_next);
        }
        if (s != MLM_OK)
            return s;
    }
    return check_tiling(f);
}

static mlm_status index_names(st_file *f)
{
    f->by_name = mem_alloc((f->count ? f->count : 1) * sizeof *f->by_name);
    if (!f->by_name)
        return err_oom();
    for (size_t i = 0; i < f->count; i++)
        f->by_name[i] = i;
    tl_file = f;
    qsort(f->by_name, f->count, sizeof *f->by_name, by_name_cmp);
    tl_file = NULL;
    return MLM_OK;
}

static mlm_status parse_file(st_file *f)
{
    if (f->size < 8)
        return err_set(MLM_ERR_FORMAT, "%s: %zu bytes is too short for the 8-byte header size", f->name,
                       f->size);
    uint64_t n = le64(f->bytes);
    if (n > ST_MAX_HEADER)
        return err_set(MLM_ERR_FORMAT, "%s: header size %" PRIu64 " exceeds the limit of %u bytes",
                       f->name, n, ST_MAX_HEADER);
    if (n > f->size - 8)
        return err_set(MLM_ERR_FORMAT,
                       "%s: header size %" PRIu64 " runs past the end of the file (%zu bytes)", f->name,
                       n, f->size);
    f->data_start = 8 + (size_t)n;
    const char *hdr = (const char *)f->bytes + 8;
    if (n == 0 || hdr[0] != '{')
        return err_set(MLM_ERR_FORMAT, "%s: header at byte 8 does not begin with '{'", f->name);
    cJSON *root;
    mlm_status s = json_parse(hdr, (size_t)n, 8, f->name, ST_MAX_JSON_VALUES, &root);
    if (s != MLM_OK)
        return s;
    s = build_tensors(f, root);
    cJSON_Delete(root);
    if (s == MLM_OK)
        s = index_names(f);
    return s;
}

static mlm_status file_new(const char *name, st_file **out)
{
    *out = NULL;
    st_file *f = mem_calloc(1, sizeof *f);
    if (!f)
        return err_oom();
    f->name = mem_strdup(name);
    if (!f->name) {
        mem_free(f);
        return err_oom();
    }
    *out = f;
    return MLM_OK;
}

mlm_status st_open_memory(const void *buf, size_t len, const char *name, st_file **out)
{
    *out = NULL;
    st_file *f;
    mlm_status s = file_new(name, &f);
    if (s != MLM_OK)
        return s;
    f->bytes = buf;
    f->size = len;
    s = parse_file(f);
    if (s != MLM_OK) {
        st_close(f);
        return s;
    }
    *out = f;
    return MLM_OK;
}

mlm_status st_open(const char *path, st_file **out)
{
    *out = NULL;
    st_file *f;
    mlm_status s = file_new(path, &f);
    if (s != MLM_OK)
        return s;
    s = file_map(path, &f->map);
    if (s == MLM_OK) {
        f->bytes = f->map.data;
        f->size = f->map.size;
        s = parse_file(f);
    }
    if (s != MLM_OK) {
        st_close(f);
        return s;
    }
    *out = f;
    return MLM_OK;
}

void st_close(st_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->count; i++)
        mem_free(f->names[i]);
    for (size_t i = 0; i < f->nmeta; i++) {
        mem_free(f->meta_keys[i]);
        mem_free(f->meta_values[i]);
    }
    mem_free(f->names);
    mem_free(f->meta_keys);
    mem_free(f->meta_values);
    mem_free(f->tensors);
    mem_free(f->by_name);
    mem_free(f->dims);
    file_unmap(&f->map);
    mem_free(f->name);
    mem_free(f);
}

const char *st_file_name(const st_file *f) { return f->name; }

size_t st_count(const st_file *f) { return f->count; }

const st_tensor *st_at(const st_file *f, size_t i) { return i < f->count ? &f->tensors[i] : NULL; }

const st_tensor *st_find(const st_file *f, const char *name)
{
    size_t lo = 0, hi = f->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp_idx(f, f->by_name[mid], name);
        if (c == 0)
            return &f->tensors[f->by_name[mid]];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

mlm_status st_get(const st_file *f, const char *name, const st_tensor **out)
{
    *out = st_find(f, name);
    if (!*out)
        return err_set(MLM_ERR_NOT_FOUND, "%s: no tensor named '%s'", f->name, name);
    return MLM_OK;
}

const char *st_metadata(const st_file *f, const char *key)
{
    size_t lo = 0, hi = f->nmeta;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->meta_keys[mid], key);
        if (c == 0)
            return f->meta_values[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t st_metadata_count(const st_file *f) { return f->nmeta; }

void st_metadata_at(const st_file *f, size_t i, const char **key, const char **value)
{
    *key = i < f->nmeta ? f->meta_keys[i] : NULL;
    *value = i < f->nmeta ? f->meta_values[i] : NULL;
}

/* ---------------------------------------------------------------- conversion */

static float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float st_bf16_to_f32(uint16_t b) { return f32_from_bits((uint32_t)b << 16); }

float st_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
    if (exp == 0x1F) /* infinity or NaN; the payload moves up with the mantissa */
        return f32_from_bits(sign | 0x7F800000u | (mant << 13));
    if (exp != 0)
        return f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
    if (mant == 0)
        return f32_from_bits(sign);
    /* Subnormal half: normalise, since every one is a normal float. */
    int e = -1;
    do {
        e++;
        mant <<= 1;
    } while (!(mant & 0x400));
    return f32_from_bits(sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3FF) << 13));
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static mlm_status check_count(const st_tensor *t, size_t count)
{
    if (count != t->numel)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "%s: tensor '%s' has %" PRIu64 " elements, but the buffer holds %zu", t->file,
                       t->name, t->numel, count);
    return MLM_OK;
}

mlm_status st_tensor_to_f32(const st_tensor *t, float *dst, size_t count)
{
    mlm_status s = check_count(t, count);
    if (s != MLM_OK)
        return s;
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case ST_F32:
        for (size_t i = 0; i < count; i++)
            dst[i] = f32_from_bits(le32(p + 4 * i));
        return MLM_OK;
    case ST_F16:
        for (size_t i = 0; i < count; i++)
            dst[i] = st_f16_to_f32(le16(p + 2 * i));
        return MLM_OK;
    case ST_BF16:
        for (size_t i = 0; i < count; i++)
            dst[i] = st_bf16_to_f32(le16(p + 2 * i));
        return MLM_OK;
    default:
        return err_set(MLM_ERR_UNSUPPORTED, "%s: tensor '%s' is %s; expected F32, F16 or BF16", t->file,
                       t->name, st_dtype_name(t->dtype));
    }
}

mlm_status st_tensor_f32(const st_tensor *t, const float **data, float **owned)
{
    *data = NULL;
    *owned = NULL;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (t->dtype == ST_F32 && ((uintptr_t)t->data % _Alignof(float)) == 0) {
        *data = (const float *)(const void *)t->data;
        return MLM_OK;
    }
#endif
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16)
        return err_set(MLM_ERR_UNSUPPORTED, "%s: tensor '%s' is %s; expected F32, F16 or BF16", t->file,
                       t->name, st_dtype_name(t->dtype));
    if (t->numel > SIZE_MAX / sizeof(float))
        return err_oom();
    float *buf = mem_alloc((size_t)t->numel * sizeof(float));
    if (!buf)
        return err_oom();
    mlm_status s = st_tensor_to_f32(t, buf, (size_t)t->numel);
    if (s != MLM_OK) {
        mem_free(buf);
        return s;
    }
    *data = buf;
    *owned = buf;
    return MLM_OK;
}

/* One integer element widened to int64; *ok is cleared for a U64 above
 * INT64_MAX. */
static int64_t int_at(const st_tensor *t, size_t i, int *ok)
{
    const uint8_t *p = t->data + i * st_dtype_size(t->dtype);
    uint64_t u;
    switch (t->dtype) {
    case ST_BOOL:
    case ST_U8: return p[0];
    case ST_I8: return (int8_t)p[0];
    case ST_I16: return (int16_t)le16(p);
    case ST_U16: return le16(p);
    case ST_I32: return (int32_t)le32(p);
    case ST_U32: return le32(p);
    case ST_I64: return (int64_t)le64(p);
    default:
        u = le64(p);
        if (u > INT64_MAX)
            *ok = 0;
        return (int64_t)(u & INT64_MAX);
    }
}

static int is_integer_dtype(st_dtype d)
{
    return d == ST_BOOL || d == ST_U8 || d == ST_I8 || d == ST_I16 || d == ST_U16 || d == ST_I32 ||
           d == ST_U32 || d == ST_I64 || d == ST_U64;
}

static mlm_status int_check(const st_tensor *t, size_t count)
{
    mlm_status s = check_count(t, count);
    if (s != MLM_OK)
        return s;
    if (!is_integer_dtype(t->dtype))
        return err_set(MLM_ERR_UNSUPPORTED, "%s: tensor '%s' is %s; expected an integer dtype", t->file,
                       t->name, st_dtype_name(t->dtype));
    return MLM_OK;
}

mlm_status st_tensor_to_i64(const st_tensor *t, int64_t *dst, size_t count)
{
    mlm_status s = int_check(t, count);
    for (size_t i = 0; s == MLM_OK && i < count; i++) {
        int ok = 1;
        dst[i] = int_at(t, i, &ok);
        if (!ok)
            s = err_set(MLM_ERR_RANGE, "%s: tensor '%s': element %zu does not fit in int64", t->file,
                        t->name, i);
    }
    return s;
}

mlm_status st_tensor_to_i32(const st_tensor *t, int32_t *dst, size_t count)
{
    mlm_status s = int_check(t, count);
    for (size_t i = 0; s == MLM_OK && i < count; i++) {
        int ok = 1;
        int64_t v = int_at(t, i, &ok);
        if (!ok || v < INT32_MIN || v > INT32_MAX)
            s = err_set(MLM_ERR_RANGE, "%s: tensor '%s': element %zu does not fit in int32", t->file,
                        t->name, i);
        else
            dst[i] = (int32_t)v;
    }
    return s;
}

/* ---------------------------------------------------------------- shards */

typedef struct index_entry {
    const st_tensor *tensor;
    size_t shard;
} index_entry;

struct st_index {
    char *path;
    cJSON *root;          /* the index file */
    st_file **shards;
    size_t nshards;
    index_entry *entries; /* every tensor of every shard, by name */
    size_t count;
};

void st_index_close(st_index *ix)
{
    if (!ix)
        return;
    for (size_t i = 0; i < ix->nshards; i++)
        st_close(ix->shards[i]);
    mem_free(ix->shards);
    mem_free(ix->entries);
    cJSON_Delete(ix->root);
    mem_free(ix->path);
    mem_free(ix);
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const index_entry *)a)->tensor->name, ((const index_entry *)b)->tensor->name);
}

static const index_entry *find_entry(const st_index *ix, const char *name)
{
    size_t lo = 0, hi = ix->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ix->entries[mid].tensor->name, name);
        if (c == 0)
            return &ix->entries[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* A shard must be a plain file name beside the index: a weight_map that
 * could point at "../../x" would let a downloaded checkpoint read any file. */
static mlm_status check_shard_name(const st_index *ix, const cJSON *m)
{
    if (!cJSON_IsString(m))
        return err_set(MLM_ERR_FORMAT, "%s: weight_map entry '%s' is %s, not a file name", ix->path,
                       m->string, json_type_name(m));
    const char *v = m->valuestring;
    if (!*v || strchr(v, '/') || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
        return err_set(MLM_ERR_FORMAT,
                       "%s: weight_map entry '%s' names '%s', which is not a plain file name in the "
                       "index's directory",
                       ix->path, m->string, v);
    return MLM_OK;
}

static mlm_status open_shard(st_index *ix, const char *file, size_t dirlen)
{
    for (size_t i = 0; i < ix->nshards; i++)
        if (strcmp(st_file_name(ix->shards[i]) + dirlen, file) == 0)
            return MLM_OK;
    size_t n = strlen(file);
    char *path = mem_alloc(dirlen + n + 1);
    if (!path)
        return err_oom();
    memcpy(path, ix->path, dirlen);
    memcpy(path + dirlen, file, n + 1);
    mlm_status s = st_open(path, &ix->shards[ix->nshards]);
    mem_free(path);
    if (s != MLM_OK)
        return err_prefix(s, "%s: shard '%s': ", ix->path, file);
    ix->nshards++;
    return MLM_OK;
}

/* All shards' tensors in one sorted list; a name in two shards is an error. */
static mlm_status merge_shards(st_index *ix)
{
    size_t total = 0;
    for (size_t i = 0; i < ix->nshards; i++)
        total += st_count(ix->shards[i]);
    ix->entries = mem_alloc((total ? total : 1) * sizeof *ix->entries);
    if (!ix->entries)
        return err_oom();
    for (size_t i = 0; i < ix->nshards; i++)
        for (size_t j = 0; j < st_count(ix->shards[i]); j++)
            ix->entries[ix->count++] = (index_entry){st_at(ix->shards[i], j), i};
    qsort(ix->entries, ix->count, sizeof *ix->entries, entry_cmp);
    for (size_t i = 1; i < ix->count; i++)
        if (strcmp(ix->entries[i - 1].tensor->name, ix->entries[i].tensor->name) == 0)
            return err_set(MLM_ERR_FORMAT, "%s: tensor '%s' is in two shards, '%s' and '%s'", ix->path,
                           ix->entries[i].tensor->name, ix->entries[i - 1].tensor->file,
                           ix->entries[i].tensor->file);
    return MLM_OK;
}

static mlm_status check_weight_map(const st_index *ix, const cJSON *wm, size_t dirlen)
{
    for (const cJSON *m = wm->child; m; m = m->next) {
        const index_entry *e = find_entry(ix, m->string);
        if (!e)
            return err_set(MLM_ERR_NOT_FOUND, "%s: weight_map puts tensor '%s' in '%s', which has no such tensor",
                           ix->path, m->string, m->valuestring);
        const char *in = e->tensor->file + dirlen;
        if (strcmp(in, m->valuestring) != 0)
            return err_set(MLM_ERR_FORMAT, "%s: weight_map puts tensor '%s' in '%s', but it is in '%s'",
                           ix->path, m->string, m->valuestring, in);
    }
    return MLM_OK;
}

static mlm_status load_index(st_index *ix)
{
    char *text;
    size_t len;
    mlm_status s = file_read_all(ix->path, ST_MAX_HEADER, &text, &len);
    if (s != MLM_OK)
        return s;
    s = json_parse(text, len, 0, ix->path, ST_MAX_JSON_VALUES, &ix->root);
    mem_free(text);
    if (s != MLM_OK)
        return s;
    if (!cJSON_IsObject(ix->root))
        return err_set(MLM_ERR_FORMAT, "%s: expected a JSON object, found %s", ix->path,
                       json_type_name(ix->root));
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(ix->root, "weight_map"),
                *md = cJSON_GetObjectItemCaseSensitive(ix->root, "metadata");
    if (!cJSON_IsObject(wm))
        return err_set(MLM_ERR_FORMAT, "%s: 'weight_map' is %s; expected an object", ix->path,
                       json_type_name(wm));
    if (md && !cJSON_IsObject(md) && !cJSON_IsNull(md))
        return err_set(MLM_ERR_FORMAT, "%s: 'metadata' is %s; expected an object", ix->path,
                       json_type_name(md));
    const char *slash = strrchr(ix->path, '/');
    size_t dirlen = slash ? (size_t)(slash - ix->path) + 1 : 0;
    ix->shards = mem_calloc(json_len(wm) ? json_len(wm) : 1, sizeof *ix->shards);
    if (!ix->shards)
        return err_oom();
    for (const cJSON *m = wm->child; m; m = m->next)
        if ((s = check_shard_name(ix, m)) != MLM_OK || (s = open_shard(ix, m->valuestring, dirlen)) != MLM_OK)
            return s;
    if ((s = merge_shards(ix)) != MLM_OK)
        return s;
    return check_weight_map(ix, wm, dirlen);
}

mlm_status st_index_open(const char *index_path, st_index **out)
{
    *out = NULL;
    st_index *ix = mem_calloc(1, sizeof *ix);
    if (!ix)
        return err_oom();
    ix->path = mem_strdup(index_path);
    mlm_status s = ix->path ? load_index(ix) : err_oom();
    if (s != MLM_OK) {
        st_index_close(ix);
        return s;
    }
    *out = ix;
    return MLM_OK;
}

size_t st_index_count(const st_index *ix) { return ix->count; }

const st_tensor *st_index_at(const st_index *ix, size_t i)
{
    return i < ix->count ? ix->entries[i].tensor : NULL;
}

const st_tensor *st_index_find(const st_index *ix, const char *name)
{
    const index_entry *e = find_entry(ix, name);
    return e ? e->tensor : NULL;
}

const cJSON *st_index_metadata(const st_index *ix, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ix->root, "metadata"), key);
}

size_t st_index_shard_count(const st_index *ix) { return ix->nshards; }

const st_file *st_index_shard(const st_index *ix, size_t i) { return i < ix->nshards ? ix->shards[i] : NULL; }

/* ---------------------------------------------------------------- writer */

typedef struct wtensor {
    char *name;
    st_dtype dtype;
    size_t ndim;
    uint64_t *shape;
    const void *data;
    size_t nbytes;
} wtensor;

typedef struct wmeta {
    char *key;
    char *value;
} wmeta;

struct st_writer {
    wtensor *tensors;
    size_t count, cap;
    wmeta *meta;
    size_t nmeta, meta_cap;
};

mlm_status st_writer_new(st_writer **out)
{
    *out = mem_calloc(1, sizeof **out);
    return *out ? MLM_OK : err_oom();
}

void st_writer_free(st_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->count; i++) {
        mem_free(w->tensors[i].name);
        mem_free(w->tensors[i].shape);
    }
    for (size_t i = 0; i < w->nmeta; i++) {
        mem_free(w->meta[i].key);
        mem_free(w->meta[i].value);
    }
    mem_free(w->tensors);
    mem_free(w->meta);
    mem_free(w);
}

static mlm_status check_utf8(const char *what, const char *s)
{
    size_t bad;
    if (!utf8_valid(s, strlen(s), &bad))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "safetensors writer: %s is not valid UTF-8 at byte %zu",
                       what, bad);
    return MLM_OK;
}

static int grow_vec(void **vec, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 1;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = mem_realloc(*vec, c * size);
    if (!p)
        return 0;
    *vec = p;
    *cap = c;
    return 1;
}

mlm_status st_writer_add(st_writer *w, const char *name, st_dtype dtype, size_t ndim,
                         const uint64_t *shape, const void *data)
{
    if ((unsigned)dtype >= ST_DTYPE_COUNT)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "safetensors writer: tensor '%s': invalid dtype %d",
                       name, (int)dtype);
    mlm_status s = check_utf8("a tensor name", name);
    if (s != MLM_OK)
        return s;
    if (strcmp(name, "__metadata__") == 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "safetensors writer: '__metadata__' is reserved and cannot name a tensor");
    for (size_t i = 0; i < w->count; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return err_set(MLM_ERR_INVALID_ARGUMENT, "safetensors writer: tensor '%s' added twice", name);
    uint64_t numel = 1, nbytes;
    for (size_t i = 0; i < ndim; i++)
        if (__builtin_mul_overflow(numel, shape[i], &numel))
            return err_set(MLM_ERR_RANGE, "safetensors writer: tensor '%s': shape overflows", name);
    if (__builtin_mul_overflow(numel, (uint64_t)st_dtype_size(dtype), &nbytes) || nbytes > SIZE_MAX / 2)
        return err_set(MLM_ERR_RANGE, "safetensors writer: tensor '%s': shape overflows", name);
    if (nbytes && !data)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "safetensors writer: tensor '%s' has no data", name);
    if (!grow_vec((void **)&w->tensors, &w->cap, w->count + 1, sizeof *w->tensors))
        return err_oom();
    wtensor *t = &w->tensors[w->count];
    memset(t, 0, sizeof *t);
    t->name = mem_strdup(name);
    t->shape = mem_alloc((ndim ? ndim : 1) * sizeof *t->shape);
    if (!t->name || !t->shape) {
        mem_free(t->name);
        mem_free(t->shape);
        return err_oom();
    }
    if (ndim)
        memcpy(t->shape, shape, ndim * sizeof *shape);
    t->dtype = dtype;
    t->ndim = ndim;
    t->data = data;
    t->nbytes = (size_t)nbytes;
    w->count++;
    return MLM_OK;
}

mlm_status st_writer_add_metadata(st_writer *w, const char *key, const char *value)
{
    mlm_status s = check_utf8("a metadata key", key);
    if (s == MLM_OK)
        s = check_utf8("a metadata value", value);
    if (s != MLM_OK)
        return s;
    for (size_t i = 0; i < w->nmeta; i++)
        if (strcmp(w->meta[i].key, key) == 0)
            return err_set(MLM_ERR_INVALID_ARGUMENT, "safetensors writer: metadata key '%s' added twice",
                           key);
    if (!grow_vec((void **)&w->meta, &w->meta_cap, w->nmeta + 1, sizeof *w->meta))
        return err_oom();
    wmeta *m = &w->meta[w->nmeta];
    m->key = mem_strdup(key);
    m->value = mem_strdup(value);
    if (!m->key || !m->value) {
        mem_free(m->key);
        mem_free(m->value);
        return err_oom();
    }
    w->nmeta++;
    return MLM_OK;
}

/* tensor.rs prepare(): `right.dtype().cmp(&left.dtype()).then(lname.cmp(rname))`,
 * i.e. dtype descending in enum order, then name ascending by bytes. */
static int write_order(const void *a, const void *b)
{
    const wtensor *x = *(const wtensor *const *)a, *y = *(const wtensor *const *)b;
    if (x->dtype != y->dtype)
        return x->dtype > y->dtype ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int meta_order(const void *a, const void *b)
{
    return strcmp(((const wmeta *)a)->key, ((const wmeta *)b)->key);
}

/* The 8-byte size and the header JSON, padded as prepare() pads it; also the
 * tensors in file order. */
static mlm_status build_header(const st_writer *w, strbuf *sb, const wtensor ***order_out)
{
    *order_out = NULL;
    const wtensor **order = mem_alloc((w->count ? w->count : 1) * sizeof *order);
    wmeta *meta = mem_alloc((w->nmeta ? w->nmeta : 1) * sizeof *meta);
    if (!order || !meta) {
        mem_free(order);
        mem_free(meta);
        return err_oom();
    }
    for (size_t i = 0; i < w->count; i++)
        order[i] = &w->tensors[i];
    qsort(order, w->count, sizeof *order, write_order);
    if (w->nmeta)
        memcpy(meta, w->meta, w->nmeta * sizeof *meta);
    qsort(meta, w->nmeta, sizeof *meta, meta_order);

    sb_append(sb, "\0\0\0\0\0\0\0\0", 8);
    sb_putc(sb, '{');
    if (w->nmeta) {
        sb_puts(sb, "\"__metadata__\":{");
        for (size_t i = 0; i < w->nmeta; i++) {
            if (i)
                sb_putc(sb, ',');
            json_put_rust_string(sb, meta[i].key);
            sb_putc(sb, ':');
            json_put_rust_string(sb, meta[i].value);
        }
        sb_putc(sb, '}');
    }
    mem_free(meta);
    size_t offset = 0;
    for (size_t i = 0; i < w->count; i++) {
        const wtensor *t = order[i];
        if (i || w->nmeta)
            sb_putc(sb, ',');
        json_put_rust_string(sb, t->name);
        sb_printf(sb, ":{\"dtype\":\"%s\",\"shape\":[", st_dtype_name(t->dtype));
        for (size_t d = 0; d < t->ndim; d++)
            sb_printf(sb, "%s%" PRIu64, d ? "," : "", t->shape[d]);
        sb_printf(sb, "],\"data_offsets\":[%zu,%zu]}", offset, offset + t->nbytes);
        offset += t->nbytes;
    }
    sb_putc(sb, '}');
    /* "Force alignment to 8 bytes" (prepare()): spaces after the JSON. */
    while (!sb->failed && (sb->len - 8) % 8)
        sb_putc(sb, ' ');
    mlm_status s = sb_status(sb);
    if (s != MLM_OK) {
        mem_free(order);
        return s;
    }
    uint64_t n = sb->len - 8;
    for (int i = 0; i < 8; i++)
        sb->data[i] = (char)(n >> (8 * i));
    *order_out = order;
    return MLM_OK;
}

mlm_status st_writer_to_memory(const st_writer *w, uint8_t **out, size_t *len)
{
    *out = NULL;
    strbuf sb = {0};
    const wtensor **order;
    mlm_status s = build_header(w, &sb, &order);
    if (s != MLM_OK) {
        sb_free(&sb);
        return s;
    }
    for (size_t i = 0; i < w->count; i++)
        sb_append(&sb, order[i]->data, order[i]->nbytes);
    mem_free(order);
    char *bytes;
    s = sb_take(&sb, &bytes, len);
    if (s == MLM_OK)
        *out = (uint8_t *)bytes;
    return s;
}

mlm_status st_writer_save(const st_writer *w, const char *path)
{
    strbuf sb = {0};
    const wtensor **order;
    mlm_status s = build_header(w, &sb, &order);
    if (s != MLM_OK) {
        sb_free(&sb);
        return s;
    }
    atomic_writer *aw;
    s = atomic_writer_open(path, &aw);
    if (s == MLM_OK)
        s = atomic_writer_write(aw, sb.data, sb.len);
    for (size_t i = 0; s == MLM_OK && i < w->count; i++)
        s = atomic_writer_write(aw, order[i]->data, order[i]->nbytes);
    if (s == MLM_OK)
        s = atomic_writer_commit(aw);
    else
        atomic_writer_abort(aw);
    mem_free(order);
    sb_free(&sb);
    return s;
}
