/* Reset: paint the stack (for the high-water mark), copy .data, zero .bss, run main. */
#include <stdint.h>
#include <string.h>

extern uint32_t __data_start[], __data_end[], __data_load[], __bss_start[], __bss_end[], __stack_top[];
int main(void);
void reset_handler(void);

#define STACK_PAINT 0xDEADBEEFu

static void fault(void)
{
    for (;;) __asm__ volatile("bkpt 0xab"); /* a fault ends the run under qemu */
}

__attribute__((naked, noreturn)) void reset_handler(void)
{
    /* Paint from the end of .bss to just below the current stack pointer,
     * in assembly: no stack is used before it is painted. */
    __asm__ volatile(
        "ldr r0, =__bss_start\n"
        "ldr r1, =__stack_top\n"
        "sub r1, r1, #64\n"
        "ldr r2, =0xDEADBEEF\n"
        "1: cmp r0, r1\n"
        "bhs 2f\n"
        "str r2, [r0], #4\n"
        "b 1b\n"
        "2: bl mcu_start\n");
}

__attribute__((used, noreturn)) void mcu_start(void)
{
    memcpy(__data_start, __data_load, (size_t)((uint8_t *)__data_end - (uint8_t *)__data_start));
    memset(__bss_start, 0, (size_t)((uint8_t *)__bss_end - (uint8_t *)__bss_start));
    main();
    fault();
    for (;;) {}
}

/* The stack's high-water mark: bytes below the top that were ever written. */
uint32_t mcu_stack_peak(void)
{
    const uint32_t *p = __bss_end;
    while (p < __stack_top && *p == STACK_PAINT) p++;
    return (uint32_t)((uint8_t *)__stack_top - (const uint8_t *)p);
}

__attribute__((section(".vectors"), used)) const void *const mcu_vectors[16] = {
    __stack_top, (void *)reset_handler, (void *)fault, (void *)fault, (void *)fault, (void *)fault, (void *)fault,
};
