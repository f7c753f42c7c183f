/*
 * mlm/core.h — versions, status codes and error reporting.
 *
 * Every libmlm function that can fail returns an mlm_status. When it is not
 * MLM_OK, mlm_last_error() returns a message for the calling thread that
 * names the file, field, line or byte offset at fault. The message stays
 * valid until the next libmlm call on the same thread that fails or clears it.
 */
#ifndef MLM_CORE_H
#define MLM_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Export macro: the library is built with -fvisibility=hidden, so only what
 * is marked MLM_API leaves libmlm.so (a linker version script checks it). */
#if defined(MLM_BUILDING_LIBRARY) && defined(__GNUC__)
#define MLM_API __attribute__((visibility("default")))
#else
#define MLM_API
#endif

/* Compile-time version. Compare with mlm_version_number() at run time to
 * check that the header matches the library an application was linked to. */
#define MLM_VERSION_MAJOR 0
#define MLM_VERSION_MINOR 1
#define MLM_VERSION_PATCH 0
#define MLM_VERSION_NUMBER \
    (MLM_VERSION_MAJOR * 10000 + MLM_VERSION_MINOR * 100 + MLM_VERSION_PATCH)
#define MLM_VERSION_STRING "0.1.0"

/* Status codes. The numeric values are part of the ABI: new codes are only
 * ever appended. */
typedef enum mlm_status {
    MLM_OK = 0,
    MLM_ERR_INVALID_ARGUMENT = 1, /* a caller passed NULL, a negative size... */
    MLM_ERR_OUT_OF_MEMORY = 2,
    MLM_ERR_IO = 3,               /* open/read/write/rename failed */
    MLM_ERR_FORMAT = 4,           /* a file or string is malformed */
    MLM_ERR_UNSUPPORTED = 5,      /* well-formed, but not something we handle */
    MLM_ERR_NOT_FOUND = 6,        /* a named tensor, key, column or file is absent */
    MLM_ERR_RANGE = 7,            /* a value is outside its allowed range */
    MLM_ERR_STATE = 8,            /* the handle is not in a state for this call */
    MLM_ERR_NUMERIC = 9,          /* a NaN or infinity where a number was needed */
    MLM_ERR_CANCELLED = 10,       /* a callback asked to stop */
    MLM_ERR_INTERNAL = 11         /* a bug in libmlm: please report it */
} mlm_status;

/* "0.1.0". Never NULL; thread-safe. */
MLM_API const char *mlm_version(void);

/* MLM_VERSION_NUMBER of the library actually loaded. Thread-safe. */
MLM_API int mlm_version_number(void);

/* A short English description of a status ("invalid argument"). Unknown
 * values give "unknown status". Never NULL; thread-safe. */
MLM_API const char *mlm_status_string(mlm_status status);

/* The message of the last failure on the calling thread, or "" when there was
 * none since the last mlm_clear_error(). Never NULL. The string belongs to
 * libmlm and is overwritten by the next failure on this thread. */
MLM_API const char *mlm_last_error(void);

/* Forget the calling thread's last error message. */
MLM_API void mlm_clear_error(void);

/* One line describing how this library runs on this machine: the CPU
 * features it detected and the GEMM kernels it chose, e.g.
 * "cpu: avx512f avx2 fma; gemm: blis 0.9.0 zen3 (small M), skx (large M)".
 * Never NULL; thread-safe. */
MLM_API const char *mlm_system_info(void);

/* The number of CPUs the calling process may run on: those in its affinity
 * mask (sched_getaffinity, so `taskset -c 0` or a container's cpuset gives
 * 1), else the CPUs online; at least 1. What a thread count <= 0 means
 * wherever libmlm takes one, and the default of the mlm tool's --threads,
 * as ONNX Runtime, PyTorch and HF tokenizers size their pools. Read afresh
 * at each call (the mask may change); thread-safe. */
MLM_API int mlm_default_threads(void);

#ifdef __cplusplus
}
#endif

#endif /* MLM_CORE_H */
