package dev.offheap.allocator.examples;

import dev.offheap.allocator.AllocatorStats;
import dev.offheap.allocator.examples.HttpEchoServer.Buffers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HttpEchoServerTest {

    private static final int[] SIZES = {0, 1, 100, 4096, 65_536, 65_537, 200_000, HttpEchoServer.MAX_BODY_BYTES};

    @ParameterizedTest
    @EnumSource(Buffers.class)
    void everyBodyComesBackWhole(Buffers buffers) throws Exception {
        try (HttpEchoServer server = HttpEchoServer.start(buffers, 0, 2);
             HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()) {
            Random random = new Random(buffers.ordinal());
            List<byte[]> sent = new ArrayList<>();
            List<CompletableFuture<HttpResponse<byte[]>>> responses = new ArrayList<>();
            for (int round = 0; round < 4; round++) { // concurrent requests over several connections
                for (int size : SIZES) {
                    byte[] body = new byte[size];
                    random.nextBytes(body);
                    sent.add(body);
                    responses.add(client.sendAsync(HttpRequest.newBuilder(uri(server))
                            .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
                            HttpResponse.BodyHandlers.ofByteArray()));
                }
            }
            for (int i = 0; i < sent.size(); i++) {
                HttpResponse<byte[]> response = responses.get(i).get();
                assertEquals(200, response.statusCode());
                assertArrayEquals(sent.get(i), response.body(), "body of " + sent.get(i).length + " bytes");
            }
        }
    }

    @Test
    void afterTheEventLoopsStopTheOffHeapAllocatorHoldsNoBlock() throws Exception {
        try (HttpEchoServer server = HttpEchoServer.start(Buffers.OFFHEAP, 0, 1);
             HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()) {
            for (int size : SIZES) {
                client.send(HttpRequest.newBuilder(uri(server)).POST(HttpRequest.BodyPublishers.ofByteArray(
                        new byte[size])).build(), HttpResponse.BodyHandlers.discarding());
            }
            AllocatorStats serving = server.offHeapStats();
            assertNotNull(serving);
            assertTrue(serving.allocations() > SIZES.length, "the channels' buffers came from the allocator: "
                    + serving);
            server.stopServing(); // the client's connections are still open: the server closes them
            AllocatorStats stopped = server.offHeapStats();
            assertEquals(0, stopped.liveBlocks(), "blocks left after stop: " + stopped);
            assertEquals(0, server.usedDirectMemory());
        }
    }

    @Test
    void aBodyOverTheLimitIsRefusedAndTheServerGoesOn() throws Exception {
        try (HttpEchoServer server = HttpEchoServer.start(Buffers.OFFHEAP, 0, 1);
             HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()) {
            HttpResponse<Void> tooLarge = client.send(HttpRequest.newBuilder(uri(server)).POST(
                    HttpRequest.BodyPublishers.ofByteArray(new byte[HttpEchoServer.MAX_BODY_BYTES + 1])).build(),
                    HttpResponse.BodyHandlers.discarding());
            assertEquals(413, tooLarge.statusCode());
            HttpResponse<byte[]> next = client.send(HttpRequest.newBuilder(uri(server)).POST(
                    HttpRequest.BodyPublishers.ofByteArray(new byte[] {1, 2, 3})).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertArrayEquals(new byte[] {1, 2, 3}, next.body());
        }
    }

    @Test
    void noEventLoopIsAClearError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HttpEchoServer.start(Buffers.POOLED, 0, 0));
        assertTrue(e.getMessage().contains("threads 0"), e.getMessage());
    }

    private static URI uri(HttpEchoServer server) {
        return URI.create("http://127.0.0.1:" + server.port() + "/echo");
    }
}
