package dev.offheap.allocator.offheap;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The page buddy hands out pages that are still committed before fresh ones. */
class PageBuddyTest {

    @Test
    void aFreedCommittedBlockIsTakenBeforeSmallerFreshOnes() {
        PageBuddy buddy = new PageBuddy(64);
        assertEquals(0, buddy.allocate(0)); // leaves fresh blocks of order 0 (page 1), 1 (2), 2 (4), ...
        int used = buddy.allocate(2);
        assertEquals(4, used);
        buddy.commit(used, 4);
        buddy.free(used, 2, 0); // committed, and its buddy (pages 0-3) is not free: stays an order-2 block

        int page = buddy.allocate(0);

        assertEquals(4, page, "the fresh page 1 was taken, though page 4 is committed and free");
        assertEquals(0, buddy.commit(page, 1), "the page handed out was not committed");
        assertNull(buddy.verify());
    }

    @Test
    void splittingKeepsTheHalfWithCommittedPages() {
        PageBuddy buddy = new PageBuddy(64);
        int block = buddy.allocate(1);
        buddy.commit(block + 1, 1); // only the second page of the block was used
        buddy.free(block, 1, 0); // merges back into one free block of 64 pages

        int page = buddy.allocate(0);

        assertEquals(block + 1, page, "splitting handed out a fresh page, not the committed one");
        assertNull(buddy.verify());
    }
}
