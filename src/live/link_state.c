#include "live/link_state.h"

#include <errno.h>
#include <string.h>

static const char *const health_names[] = {
        [ND_HEALTH_OK] = "ok",           [ND_HEALTH_LOSS] = "loss",    [ND_HEALTH_DOWN] = "down",
        [ND_HEALTH_REFUSED] = "refused", [ND_HEALTH_STALE] = "stale",
};

const char *nd_link_health_name(enum nd_link_health h)
{
        return h <= ND_HEALTH_STALE ? health_names[h] : "?";
}

int nd_link_health_parse(const char *s, enum nd_link_health *ret)
{
        for (unsigned i = 0; i <= ND_HEALTH_STALE; i++)
                if (strcmp(s, health_names[i]) == 0) {
                        *ret = (enum nd_link_health)i;
                        return 0;
                }
        return -EINVAL;
}

bool nd_link_policy_valid(const struct nd_link_policy *p)
{
        return p->down_after >= 1 && p->down_after <= p->window && p->window <= ND_LINK_HISTORY_MAX &&
               p->up_after >= 1 && p->up_after <= ND_LINK_HISTORY_MAX;
}

static uint32_t window_mask(unsigned window)
{
        return window >= 32 ? UINT32_MAX : (UINT32_C(1) << window) - 1;
}

bool nd_link_state_fold(struct nd_link_state *s, const struct nd_link_policy *p, const struct nd_link_result *l)
{
        uint32_t mask = window_mask(p->window);
        bool failed, refused, was_down = s->down, was_refused = s->health == ND_HEALTH_REFUSED;
        unsigned n_failed, n_refused;

        if (l->sent == 0)
                return false;
        failed = 2 * ((uint64_t)l->lost + l->refused) >= l->sent;
        refused = failed && l->refused >= l->lost;
        s->failed_bits = (s->failed_bits << 1) | failed;
        s->refused_bits = (s->refused_bits << 1) | refused;
        s->lossy_bits = (s->lossy_bits << 1) | (l->lost + l->refused > 0);
        if (s->rounds < ND_LINK_HISTORY_MAX)
                s->rounds++;
        s->clean_run = failed ? 0 : (s->clean_run < p->up_after ? s->clean_run + 1 : s->clean_run);

        n_failed = (unsigned)__builtin_popcount(s->failed_bits & mask);
        n_refused = (unsigned)__builtin_popcount(s->refused_bits & mask);
        if (!s->down && n_failed >= p->down_after)
                s->down = true;
        else if (s->down && s->clean_run >= p->up_after)
                s->down = false;

        if (s->down)
                /* The latest failures decide: a service that was cut off,
                 * then answers with refusals, is refused now. */
                s->health = 2 * n_refused > n_failed || (n_refused && refused) ? ND_HEALTH_REFUSED : ND_HEALTH_DOWN;
        else
                s->health = l->lost + l->refused > 0 ? ND_HEALTH_LOSS : ND_HEALTH_OK;
        return s->down != was_down || (s->down && was_down && (s->health == ND_HEALTH_REFUSED) != was_refused);
}

const char *nd_link_state_history(const struct nd_link_state *s, unsigned window, char *buf)
{
        unsigned n = s->rounds < window ? s->rounds : window, k = 0;

        if (n > ND_LINK_HISTORY_MAX)
                n = ND_LINK_HISTORY_MAX;
        for (unsigned i = n; i-- > 0;) {
                uint32_t bit = UINT32_C(1) << i;
                buf[k++] = s->refused_bits & bit ? 'R' : s->failed_bits & bit ? 'X' : s->lossy_bits & bit ? 'l' : '.';
        }
        buf[k] = '\0';
        return buf;
}
