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

/** r1, r2: each remote free succeeded (1) or was refused as a double free (0); r3: slots on the remote list. */
@JCStressTest
@Description("Two threads free the same slot remotely (a double free racing itself): the CAS on the slot's "
        + "live byte lets exactly one through, so the slot is listed once and the other call reports it.")
@Outcome(id = "1, 0, 1", expect = ACCEPTABLE, desc = "The first freer won; the second was refused.")
@Outcome(id = "0, 1, 1", expect = ACCEPTABLE, desc = "The second freer won; the first was refused.")
@Outcome(expect = FORBIDDEN, desc = "Both got through (the slot would be handed out twice) or neither did.")
@State
public class RacingDoubleFreeTest {
    private final SlabFixture fixture = new SlabFixture();

    @Actor
    public void freer1(III_Result r) {
        r.r1 = fixture.slab.pushRemote(fixture.memory, 1) ? 1 : 0;
    }

    @Actor
    public void freer2(III_Result r) {
        r.r2 = fixture.slab.pushRemote(fixture.memory, 1) ? 1 : 0;
    }

    @Arbiter
    public void afterwards(III_Result r) {
        r.r3 = fixture.slab.remoteCount();
    }
}
