/* Per-stack timer wheel: 1 ms ticks, TCP_WHEEL_SLOTS slots. Each connection sits in at most one
 * slot, keyed by the earliest of its deadlines (retransmission, delayed ACK, persist, and the
 * TIME-WAIT/FIN-WAIT-2 timer), so re-arming on every ACK is an O(1) unlink and link. Deadlines
 * more than a lap away stay in their slot and are passed over until their lap comes. */
#include "tcp/tcp_int.h"

static uint64_t tick_of(uint64_t us) { return (us + TCP_TICK_US - 1) / TCP_TICK_US; }

static uint64_t earliest(const etls_tcp_conn_t *c)
{
    uint64_t t = 0;
    const uint64_t v[4] = {c->rto_at, c->delack_at, c->persist_at, c->misc_at};
    for (int i = 0; i < 4; i++)
        if (v[i] && (!t || v[i] < t))
            t = v[i];
    return t;
}

void tcp_timer_update(etls_tcp_conn_t *c)
{
    etls_tcp_stack_t *s = c->stack;
    uint64_t t = earliest(c);
    if (t == c->timer_at && (link_linked(&c->tlink) || !t))
        return;
    if (link_linked(&c->tlink)) {
        link_del(&c->tlink);
        s->n_timers--;
    }
    c->timer_at = t;
    if (!t)
        return;
    uint64_t tick = tick_of(t);
    if (tick <= s->wheel_tick) /* already due: the next tick processed picks it up */
        tick = s->wheel_tick + 1;
    link_add_tail(&s->wheel[tick & (TCP_WHEEL_SLOTS - 1)], &c->tlink);
    s->n_timers++;
}

void tcp_timer_cancel_all(etls_tcp_conn_t *c)
{
    c->rto_at = c->delack_at = c->persist_at = c->misc_at = 0;
    tcp_timer_update(c);
}

static void run_slot(etls_tcp_stack_t *s, uint64_t tick, uint64_t now)
{
    tcp_link_t *slot = &s->wheel[tick & (TCP_WHEEL_SLOTS - 1)], local;
    if (link_empty(slot))
        return;
    /* Detach the slot first: handlers re-arm into the wheel, possibly into this very slot. */
    local.next = slot->next, local.prev = slot->prev;
    local.next->prev = &local, local.prev->next = &local;
    link_init(slot);
    while (!link_empty(&local)) {
        etls_tcp_conn_t *c = link_entry(local.next, etls_tcp_conn_t, tlink);
        link_del(&c->tlink);
        s->n_timers--;
        if (tick_of(c->timer_at) > tick) { /* a later lap */
            link_add_tail(slot, &c->tlink);
            s->n_timers++;
            continue;
        }
        c->timer_at = 0;
        tcp_timer_fire(c, now); /* may free c */
    }
}

void etls_tcp_timers(etls_tcp_stack_t *s, uint64_t now_us)
{
    if (now_us > s->now)
        s->now = now_us;
    uint64_t now_tick = now_us / TCP_TICK_US;
    if (now_tick <= s->wheel_tick)
        return;
    uint64_t from = s->wheel_tick + 1;
    if (now_tick - s->wheel_tick > TCP_WHEEL_SLOTS)
        from = now_tick - TCP_WHEEL_SLOTS + 1; /* one full lap visits every slot */
    for (uint64_t t = from; t <= now_tick; t++) {
        s->wheel_tick = t;
        run_slot(s, t, now_us);
    }
}

uint64_t etls_tcp_next_deadline(const etls_tcp_stack_t *s)
{
    if (!s->n_timers)
        return UINT64_MAX;
    for (uint64_t t = s->wheel_tick + 1; t <= s->wheel_tick + TCP_WHEEL_SLOTS; t++)
        if (!link_empty(&s->wheel[t & (TCP_WHEEL_SLOTS - 1)]))
            return t * TCP_TICK_US;
    return UINT64_MAX;
}
