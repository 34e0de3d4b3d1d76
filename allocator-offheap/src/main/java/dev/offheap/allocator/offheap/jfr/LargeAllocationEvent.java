package dev.offheap.allocator.offheap.jfr;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** An allocation at or above the allocator's large-allocation threshold, with the stack that asked for it. */
@Name("dev.offheap.allocator.LargeAllocation")
@Label("Large Allocation")
@Category("Off-Heap Allocator")
@Description("An allocation at or above the configured largeAllocationThresholdBytes")
@StackTrace(true)
public final class LargeAllocationEvent extends Event {
    @Label("Allocator")
    public String allocator;

    @Label("Size")
    @DataAmount
    public long bytes;
}
