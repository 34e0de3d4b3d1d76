package dev.offheap.allocator.offheap;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * r1: the owner's local free went through (1) or was refused as a double free (0); r2: the remote free went through
 * (1) or was refused as a double free (0); r3: how many times the slot is free after the owner collects, that is,
 * how many times the next allocations could hand it out.
 */
@JCStressTest
@Description("The owner frees a live slot locally (its claim on the live byte, then the push, as the allocator's "
        + "free does) while another thread frees the same slot remotely (CAS): a double free across threads. "
        + "Exactly one gets through, and after the owner's next collect the slot is free exactly once.")
@Outcome(id = "1, 0, 1", expect = ACCEPTABLE, desc = "The owner freed first; the remote free was refused.")
@Outcome(id = "0, 1, 1", expect = ACCEPTABLE, desc = "The remote free came first; the owner's was refused.")
@Outcome(expect = FORBIDDEN, desc = "Both got through (the slot free twice: handed out twice), or neither.")
@State
public class OwnerAndRemoteDoubleFreeTest {
    private final SlabFixture fixture = new SlabFixture();

    @Actor
    public void owner(III_Result r) {
        r.r1 = fixture.ownerFrees(1) == 1 ? 1 : 0;
    }

    @Actor
    public void other(III_Result r) {
        r.r2 = fixture.slab.pushRemote(fixture.memory, 1) ? 1 : 0;
    }

    @Arbiter
    public void afterwards(III_Result r) {
        r.r3 = fixture.timesFree(1);
    }
}
