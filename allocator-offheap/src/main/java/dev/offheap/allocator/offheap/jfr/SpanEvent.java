package dev.offheap.allocator.offheap.jfr;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** A run of pages taken from the page heap for a slab, a medium chunk or a huge block, or given back. */
@Name("dev.offheap.allocator.Span")
@Label("Span Acquired or Returned")
@Category("Off-Heap Allocator")
@Description("A run of pages taken from an allocator's page heap, or given back to it")
@StackTrace(false)
public final class SpanEvent extends Event {
    @Label("Allocator")
    public String allocator;

    @Label("Kind")
    @Description("slab, medium chunk or huge block")
    public String kind;

    @Label("Size")
    @DataAmount
    public long bytes;

    @Label("Acquired")
    @Description("true when taken, false when given back")
    public boolean acquired;
}
