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
 * r1: the owner's free pushed the slot on the free stack (1) or handed it over as a remote free (2); r2: the purger's
 * revocation went through (1) or gave the slab back, a free being in progress (0); r3: how many times the slot is
 * free at the end (free stack and remote list); r4: 1 if the free stack changed after a revocation went through,
 * which would let the owner's push race the pops of the thread the slab is handed to.
 */
@JCStressTest
@Description("The owner frees a slot of a non-current slab (claim, check it still owns the slab, push, finish, as "
        + "the allocator's free does) while the purger takes the slab from it (revokeOwner). Either the owner "
        + "sees the revocation and hands the slot over as a remote free, or the purger waits for the owner's push; "
        + "never a push after a revocation, and the slot is free exactly once.")
@Outcome(id = "1, 1, 1, 0", expect = ACCEPTABLE, desc = "The owner pushed, then the purger took the slab.")
@Outcome(id = "2, 1, 1, 0", expect = ACCEPTABLE, desc = "The purger took the slab; the owner freed remotely.")
@Outcome(id = "1, 0, 1, 0", expect = ACCEPTABLE, desc = "The purger gave up (the owner's free was slow).")
@Outcome(id = "2, 0, 1, 0", expect = ACCEPTABLE, desc = "Gave up after the owner saw the revocation.")
@Outcome(expect = FORBIDDEN, desc = "A push after the revocation, or the slot free other than once.")
@State
public class OwnerFreeVsRevokeTest {
    private final SlabFixture fixture = new SlabFixture();
    private int freeTopAtRevoke = -1;

    @Actor
    public void owner(IIII_Result r) {
        r.r1 = fixture.ownerFrees(1);
    }

    @Actor
    public void purger(IIII_Result r) {
        Slab slab = fixture.slab;
        if (slab.revokeOwner(fixture.owner)) {
            freeTopAtRevoke = slab.freeTop;
            r.r2 = 1;
        }
    }

    @Arbiter
    public void afterwards(IIII_Result r) {
        r.r4 = r.r2 == 1 && fixture.slab.freeTop != freeTopAtRevoke ? 1 : 0;
        r.r3 = fixture.timesFree(1);
    }
}
