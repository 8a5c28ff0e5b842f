#include "model/process_set.h"

void nd_process_set_add(struct nd_process_set *s, int32_t pgid, uint32_t at_once)
{
        if (at_once > s->at_once)
                s->at_once = at_once;
        if (pgid < 0)
                return;
        for (uint8_t i = 0; i < s->n; i++)
                if (s->pgids[i] == pgid)
                        return;
        if (s->n < ND_PGIDS_KEPT)
                s->pgids[s->n++] = pgid;
        else
                s->more = true;
}

void nd_process_set_merge(struct nd_process_set *s, const struct nd_process_set *other)
{
        for (uint8_t i = 0; i < other->n; i++)
                nd_process_set_add(s, other->pgids[i], 0);
        if (other->at_once > s->at_once)
                s->at_once = other->at_once;
        s->more |= other->more;
}

uint32_t nd_process_set_count(const struct nd_process_set *s)
{
        uint32_t n = s->n + (s->more ? 1 : 0);

        return n > s->at_once ? n : s->at_once;
}

int32_t nd_process_set_pgid(const struct nd_process_set *s)
{
        return s->n == 1 && !s->more && s->at_once <= 1 ? s->pgids[0] : -1;
}
