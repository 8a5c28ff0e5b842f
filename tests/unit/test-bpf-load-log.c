/* Reading libbpf's account of a refused BPF program: recorded messages,
 * as libbpf 1.1 printed them on the kernels netdep met. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "collect/bpf_load_log.h"

/* 6.18: the verifier no longer trusts a socket reached from an iterator's
 * file, and says so on the line before its statistics. */
static const char untrusted_log[] =
        "libbpf: prog 'nd_adopt_connections': -- BEGIN PROG LOAD LOG --\n"
        "0: R1=ctx() R10=fp0\n"
        "; int nd_adopt_connections(struct bpf_iter__task_file *ctx) @ tcp_events.bpf.c:620\n"
        "7: (79) r6 = *(u64 *)(r0 +24)         ; R0=ptr_socket() R6=untrusted_ptr_sock()\n"
        "45: (85) call bpf_get_socket_cookie#46\n"
        "R1 type=untrusted_ptr_ expected=sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_\n"
        "processed 46 insns (limit 1000000) max_states_per_insn 0 total_states 3 peak_states 3 mark_read 1\n"
        "-- END PROG LOAD LOG --\n";

/* 6.18 here: map element iterators refused before the verifier ran. */
static const char empty_log[] = "libbpf: prog 'nd_dump_open': -- BEGIN PROG LOAD LOG --\n"
                                "func#0 @0\n"
                                "verification time 163 usec\n"
                                "stack depth 0\n"
                                "processed 0 insns (limit 1000000) max_states_per_insn 0 total_states 0\n"
                                "-- END PROG LOAD LOG --\n";

static void test_verifier_reason(void **state)
{
        struct nd_bpf_load_failure f = {};

        assert_true(nd_bpf_load_failure_note(&f, "libbpf: prog 'nd_adopt_connections': BPF program load failed: "
                                                 "Permission denied\n"));
        assert_true(nd_bpf_load_failure_note(&f, untrusted_log));
        assert_string_equal(f.prog, "nd_adopt_connections");
        assert_string_equal(f.reason,
                            "R1 type=untrusted_ptr_ expected=sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_");
        /* The "failed to load" after the log keeps the log's reason. */
        assert_true(nd_bpf_load_failure_note(&f, "libbpf: prog 'nd_adopt_connections': failed to load: -13\n"));
        assert_string_equal(f.reason,
                            "R1 type=untrusted_ptr_ expected=sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_");
}

static void test_log_without_reason(void **state)
{
        struct nd_bpf_load_failure f = {};

        assert_true(nd_bpf_load_failure_note(&f, empty_log));
        assert_string_equal(f.prog, "nd_dump_open");
        assert_string_equal(f.reason, ""); /* the caller says the errno instead */
}

static void test_failed_without_log(void **state)
{
        struct nd_bpf_load_failure f = { .prog = "nd_seed_listeners", .reason = "old" };

        /* Another program than the last log's: its reason is not that one. */
        assert_true(nd_bpf_load_failure_note(&f, "libbpf: prog 'nd_dump_open_copy': failed to load: -1\n"));
        assert_string_equal(f.prog, "nd_dump_open_copy");
        assert_string_equal(f.reason, "");
}

static void test_other_messages(void **state)
{
        struct nd_bpf_load_failure f = {};

        assert_false(nd_bpf_load_failure_note(&f, "libbpf: failed to load object 'tcp_events_bpf'\n"));
        assert_false(nd_bpf_load_failure_note(&f, "libbpf: prog 'nd_dump_open': relo #37: patched insn #233\n"));
        assert_false(nd_bpf_load_failure_note(&f, "libbpf: loading kernel BTF '/sys/kernel/btf/vmlinux': 0\n"));
        assert_false(nd_bpf_load_failure_note(&f, ""));
        assert_false(nd_bpf_load_failure_note(&f, "libbpf: prog '"));
        assert_string_equal(f.prog, "");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_verifier_reason),
                cmocka_unit_test(test_log_without_reason),
                cmocka_unit_test(test_failed_without_log),
                cmocka_unit_test(test_other_messages),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
