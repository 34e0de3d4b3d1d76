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
 * r1: the owner took the slab back; r2: the freer claimed it for the partial queue; r3: the final state
 * (0 OWNED, 1 DETACHED, 2 QUEUED); r4: remote frees still pending.
 */
@JCStressTest
@Description("The owner of an exhausted slab detaches it (write DETACHED, read the remote list) while another "
        + "thread frees a slot (CAS push, read the state). Dekker: at least one sees the other, so the slab is "
        + "never left detached with a free slot that nobody will find, and never both kept and queued.")
@Outcome(id = "1, 0, 0, 0", expect = ACCEPTABLE, desc = "The owner saw the free and kept the slab, collecting it.")
@Outcome(id = "0, 1, 2, 1", expect = ACCEPTABLE, desc = "The freer saw DETACHED and queued the slab for adoption.")
@Outcome(id = "0, 0, 1, 1", expect = FORBIDDEN, desc = "Stranded: detached with a pending free, nobody acted.")
@Outcome(expect = FORBIDDEN, desc = "Kept and queued at once, or a lost free.")
@State
public class DetachVsRemoteFreeTest {
    private final SlabFixture fixture = new SlabFixture();

    @Actor
    public void owner(IIII_Result r) {
        Slab slab = fixture.slab;
        if (slab.detachOrKeep()) {
            slab.collectRemote(fixture.memory);
            r.r1 = 1;
        }
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
