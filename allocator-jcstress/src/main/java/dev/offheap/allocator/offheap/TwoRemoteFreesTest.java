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

/** r1: pending remote frees before the collect; r2: free slots after it; r3: the two slots differ (1). */
@JCStressTest
@Description("Two threads free the slab's two slots remotely at once: both CAS pushes land (the loser retries "
        + "with the winner's head as its link), and the owner's collect then finds both slots, each once.")
@Outcome(id = "2, 2, 1", expect = ACCEPTABLE, desc = "Both frees arrived, in either order.")
@Outcome(expect = FORBIDDEN, desc = "A free was lost or a slot listed twice.")
@State
public class TwoRemoteFreesTest {
    private final SlabFixture fixture = new SlabFixture();

    @Actor
    public void freerOfSlot0() {
        fixture.slab.pushRemote(fixture.memory, 0);
    }

    @Actor
    public void freerOfSlot1() {
        fixture.slab.pushRemote(fixture.memory, 1);
    }

    @Arbiter
    public void owner(III_Result r) {
        Slab slab = fixture.slab;
        r.r1 = slab.remoteCount();
        slab.collectRemote(fixture.memory);
        r.r2 = slab.freeTop;
        r.r3 = slab.freeTop == 2 && slab.freeStack[0] != slab.freeStack[1] ? 1 : 0;
    }
}
