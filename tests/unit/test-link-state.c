/* A link's health over rounds: down after 3 failed rounds of 5, back
 * after 5 clean ones, refused told from lost, and one probe lost in five
 * never an alert. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "live/link_state.h"

static bool round_of(struct nd_link_state *s, unsigned lost, unsigned refused)
{
        struct nd_link_policy p = ND_LINK_POLICY_DEFAULT;
        struct nd_link_result l = { "10.0.0.5", 80, ND_LINK_TCP, 5, lost, refused, 100, 200 };

        return nd_link_state_fold(s, &p, &l);
}

static void test_one_in_five_never_alerts(void **state)
{
        struct nd_link_state s = {};
        char h[ND_LINK_HISTORY_MAX + 1];

        for (int i = 0; i < 50; i++)
                assert_false(round_of(&s, 1, 0));
        assert_false(s.down);
        assert_int_equal(s.health, ND_HEALTH_LOSS);
        assert_string_equal(nd_link_state_history(&s, 5, h), "lllll");
}

static void test_down_after_three_of_five(void **state)
{
        struct nd_link_state s = {};
        char h[ND_LINK_HISTORY_MAX + 1];

        assert_false(round_of(&s, 0, 0));
        assert_false(round_of(&s, 5, 0));
        assert_int_equal(s.health, ND_HEALTH_LOSS); /* seen at once, no alert yet */
        assert_false(round_of(&s, 0, 0));
        assert_false(round_of(&s, 3, 0));
        assert_true(round_of(&s, 5, 0)); /* the third failure in five */
        assert_true(s.down);
        assert_int_equal(s.health, ND_HEALTH_DOWN);
        assert_string_equal(nd_link_state_history(&s, 5, h), ".X.XX");

        /* Back only after 5 clean rounds in a row; a relapse restarts it. */
        for (int i = 0; i < 4; i++)
                assert_false(round_of(&s, 0, 0));
        assert_false(round_of(&s, 5, 0));
        for (int i = 0; i < 4; i++)
                assert_false(round_of(&s, 0, 0));
        assert_true(s.down);
        assert_true(round_of(&s, 0, 0));
        assert_false(s.down);
        assert_int_equal(s.health, ND_HEALTH_OK);
}

static void test_refused_is_not_loss(void **state)
{
        struct nd_link_state s = {};

        assert_false(round_of(&s, 0, 5));
        assert_false(round_of(&s, 0, 5));
        assert_true(round_of(&s, 0, 5));
        assert_int_equal(s.health, ND_HEALTH_REFUSED);
}

static void test_alternating_failures_do_not_flap(void **state)
{
        struct nd_link_state s = {};
        int edges = 0;

        /* Every other round fails: down once, and stays down, since it
         * never has 5 clean rounds in a row. */
        for (int i = 0; i < 40; i++)
                edges += round_of(&s, i % 2 ? 5 : 0, 0);
        assert_int_equal(edges, 1);
        assert_true(s.down);
}

static void test_nothing_sent_changes_nothing(void **state)
{
        struct nd_link_policy p = ND_LINK_POLICY_DEFAULT;
        struct nd_link_result l = { "10.0.0.5", 80, ND_LINK_TCP, 0, 0, 0, -1, -1 };
        struct nd_link_state s = {}, before = {};

        assert_false(nd_link_state_fold(&s, &p, &l));
        assert_memory_equal(&s, &before, sizeof(s));
        assert_true(nd_link_policy_valid(&p));
        p.down_after = 6;
        assert_false(nd_link_policy_valid(&p));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_one_in_five_never_alerts),
                cmocka_unit_test(test_down_after_three_of_five),
                cmocka_unit_test(test_refused_is_not_loss),
                cmocka_unit_test(test_alternating_failures_do_not_flap),
                cmocka_unit_test(test_nothing_sent_changes_nothing),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
