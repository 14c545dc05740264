/* The P-256 arithmetic with the portable 64-bit field code (unsigned __int128). */
#define ETLS_P256_ARITH etls_p256_arith_c
#define ETLS_P256_ARITH_NAME "c64"
#include "p256_scalar.c"
#include "p256_point.c"
