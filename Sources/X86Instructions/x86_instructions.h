// Single x86 instructions that LLVM does not select from any Swift SIMD
// formulation we found (or, for the prefetch, that Swift cannot name) (docs/kernels.md, "Why a C header": LLVM proves the 16-bit
// sums cannot saturate and lowers "widen, multiply, add pairs" to vpmulld
// instead of vpmaddubsw). Each function is one instruction; the kernels that
// use them are Swift. Without AVX2 the same results come from plain C, so
// the package still builds (slowly) on other CPUs.
#ifndef KVSERVE_X86_INSTRUCTIONS_H
#define KVSERVE_X86_INSTRUCTIONS_H

typedef unsigned char kv_u8x32 __attribute__((ext_vector_type(32)));
typedef signed char kv_i8x32 __attribute__((ext_vector_type(32)));
typedef short kv_i16x16 __attribute__((ext_vector_type(16)));
typedef int kv_i32x8 __attribute__((ext_vector_type(8)));

#if defined(__AVX2__)
typedef char kv_bytes32 __attribute__((vector_size(32)));
typedef short kv_words16 __attribute__((vector_size(32)));

/// vpmaddubsw: r[i] = a[2i] * b[2i] + a[2i+1] * b[2i+1], a unsigned, b
/// signed, the sum saturated to 16 bits.
static inline __attribute__((always_inline)) kv_i16x16 kv_multiply_add_bytes(kv_u8x32 a, kv_i8x32 b) {
    return (kv_i16x16)__builtin_ia32_pmaddubsw256((kv_bytes32)a, (kv_bytes32)b);
}

/// vpmaddwd: r[i] = a[2i] * b[2i] + a[2i+1] * b[2i+1] in 32 bits.
static inline __attribute__((always_inline)) kv_i32x8 kv_multiply_add_words(kv_i16x16 a, kv_i16x16 b) {
    return (kv_i32x8)__builtin_ia32_pmaddwd256((kv_words16)a, (kv_words16)b);
}

/// vpsignb: a[i] negated where b[i] < 0, zero where b[i] == 0.
static inline __attribute__((always_inline)) kv_i8x32 kv_sign_bytes(kv_i8x32 a, kv_i8x32 b) {
    return (kv_i8x32)__builtin_ia32_psignb256((kv_bytes32)a, (kv_bytes32)b);
}
#else
static inline kv_i16x16 kv_multiply_add_bytes(kv_u8x32 a, kv_i8x32 b) {
    kv_i16x16 r;
    for (int i = 0; i < 16; i++) {
        int s = (int)a[2 * i] * b[2 * i] + (int)a[2 * i + 1] * b[2 * i + 1];
        r[i] = (short)(s > 32767 ? 32767 : s < -32768 ? -32768 : s);
    }
    return r;
}

static inline kv_i32x8 kv_multiply_add_words(kv_i16x16 a, kv_i16x16 b) {
    kv_i32x8 r;
    for (int i = 0; i < 8; i++) r[i] = (int)a[2 * i] * b[2 * i] + (int)a[2 * i + 1] * b[2 * i + 1];
    return r;
}

static inline kv_i8x32 kv_sign_bytes(kv_i8x32 a, kv_i8x32 b) {
    kv_i8x32 r;
    for (int i = 0; i < 32; i++) r[i] = b[i] < 0 ? (signed char)(-a[i]) : b[i] == 0 ? 0 : a[i];
    return r;
}
#endif

/// prefetcht0: asks for the cache line holding p, ahead of its use. A hint:
/// it never faults, so it may point past the end of a matrix.
static inline __attribute__((always_inline)) void kv_prefetch(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

#endif
