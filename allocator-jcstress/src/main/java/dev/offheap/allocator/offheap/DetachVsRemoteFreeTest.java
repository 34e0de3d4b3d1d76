package dev.offheap.allocator.offheap;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * r1: the detacher must queue the slab; r2: the freer must queue it; r3: the final state (0 OWNED, 1 DETACHED,
 * 2 QUEUED); r4: remote frees pending.
 */
@JCStressTest
@Description("The lock holder detaches a full slab whose owner died (write DETACHED, then look for free slots "
        + "and remote frees) while another thread frees a slot into it (CAS push, then read the state). Dekker: "
        + "at least one sees the other, so the slab is queued for adoption exactly once and never left detached "
        + "with a free slot that nobody will find.")
@Outcome(id = "1, 0, 2, 1", expect = ACCEPTABLE, desc = "The detacher saw the pushed free and queued the slab.")
@Outcome(id = "0, 1, 2, 1", expect = ACCEPTABLE, desc = "The freer saw DETACHED and queued the slab.")
@Outcome(id = "0, 0, 1, 1", expect = FORBIDDEN, desc = "Stranded: detached with a pending free, nobody queued it.")
@Outcome(expect = FORBIDDEN, desc = "Queued twice, or a lost free.")
@State
public class DetachVsRemoteFreeTest {
    private final SlabFixture fixture = new SlabFixture();

    @Actor
    public void detacher(IIII_Result r) {
        r.r1 = fixture.slab.detach() ? 1 : 0;
    }

    @Actor
    public void remoteFreer(IIII_Result r) {
        Slab slab = fixture.slab;
        slab.pushRemote(fixture.memory, 0);
        r.r2 = slab.claimForQueue() ? 1 : 0;
    }

    @Arbiter
    public void afterwards(IIII_Result r) {
        r.r3 = fixture.slab.state;
        r.r4 = fixture.slab.remoteCount();
    }
}
