package dev.offheap.allocator.offheap.jfr;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** An allocation refused because it would have taken the allocator past its cap. */
@Name("dev.offheap.allocator.CapReached")
@Label("Cap Reached")
@Category("Off-Heap Allocator")
@Description("An allocation was refused: it would have taken the allocator past maxBytes")
public final class CapReachedEvent extends Event {
    @Label("Allocator")
    public String allocator;

    @Label("Requested")
    @DataAmount
    public long requestedBytes;

    @Label("Cap")
    @DataAmount
    public long maxBytes;

    @Label("In Use")
    @DataAmount
    public long usedBytes;
}
