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

/** r1, r2: each free went into the stash (1) or was refused as a double free (0); r3: blocks in the stash. */
@JCStressTest
@Description("Two threads free the same medium block without a lock (a double free racing itself): the "
        + "compare-and-set on the block's header lets exactly one claim it, so it is stashed once.")
@Outcome(id = "1, 0, 1", expect = ACCEPTABLE, desc = "The first freer won; the second was refused.")
@Outcome(id = "0, 1, 1", expect = ACCEPTABLE, desc = "The second freer won; the first was refused.")
@Outcome(expect = FORBIDDEN, desc = "Both got through (the block would be handed out twice) or neither did.")
@State
public class MediumRacingDoubleFreeTest {
    private final MediumFixture fixture = new MediumFixture();

    @Actor
    public void freer1(III_Result r) {
        r.r1 = fixture.free(fixture.first);
    }

    @Actor
    public void freer2(III_Result r) {
        r.r2 = fixture.free(fixture.first);
    }

    @Arbiter
    public void afterwards(III_Result r) {
        r.r3 = fixture.stash.count();
    }
}
