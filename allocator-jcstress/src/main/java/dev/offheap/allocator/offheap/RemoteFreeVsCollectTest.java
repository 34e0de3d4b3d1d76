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

/** r1: the remote push succeeded; r2: slots the owner collected while racing; r3: free slots at the end. */
@JCStressTest
@Description("A remote free (CAS push) races the owner taking the whole remote list (getAndSet): the freed "
        + "slot reaches the owner's free stack exactly once, either in the racing collect or in the next one.")
@Outcome(id = "1, 0, 1", expect = ACCEPTABLE, desc = "The owner collected before the push; the next collect got it.")
@Outcome(id = "1, 1, 1", expect = ACCEPTABLE, desc = "The owner's collect took the pushed slot.")
@Outcome(expect = FORBIDDEN, desc = "The slot was lost or collected twice.")
@State
public class RemoteFreeVsCollectTest {
    private final SlabFixture fixture = new SlabFixture();

    @Actor
    public void remoteFreer(III_Result r) {
        r.r1 = fixture.slab.pushRemote(fixture.memory, 0) ? 1 : 0;
    }

    @Actor
    public void owner(III_Result r) {
        r.r2 = fixture.slab.collectRemote(fixture.memory);
    }

    @Arbiter
    public void afterwards(III_Result r) {
        fixture.slab.collectRemote(fixture.memory);
        r.r3 = fixture.slab.freeTop;
    }
}
