/* The P-256 arithmetic with mulx/adcx/adox field multiplications (p256_fe_adx.h). Only reached
 * through etls_p256_arith_best() after etls_cpu_has(BMI2 | ADX), or by tests that check the CPU
 * themselves. */
#define ETLS_P256_ADX 1
#define ETLS_P256_ARITH etls_p256_arith_adx
#define ETLS_P256_ARITH_NAME "adx"
#include "p256_scalar.c"
#include "p256_point.c"
