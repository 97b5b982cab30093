using System.Collections.Concurrent;
using Palisade.Flows.Feed;
using Palisade.Flows.Records;
using Palisade.Flows.Tests.Reading;
using Palisade.Flows.Tests.Storage;
using Palisade.Tests;

namespace Palisade.Flows.Tests.Feed;

/// <summary>An ingest's live feed over a real Unix domain socket: what followers get, and when.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class FlowFeedTests : IDisposable
{
    // Socket paths must be short: a folder of its own under /tmp.
    private readonly string _folder = Directory.CreateTempSubdirectory("pal-feed-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string SocketPath => Path.Combine(_folder, "flows.duckdb.feed");

    private static List<FlowRecord> Flows()
    {
        var flows = HubbleCaptureTests.ReadAll().Flows.Distinct().Take(40).ToList();
        flows[3] = flows[3] with
        {
            Attribution = new FlowAttribution
            {
                Verdict = EngineVerdict.Denied, Tier = "admin", Policy = "AdminNetworkPolicy tre-isolate", Rule = "spec.egress[0]",
                Disagreement = Disagreement.ForwardedButDenied, Project = "alpha",
            },
        };
        return flows;
    }

    [Fact]
    public async Task Publish_ToAFollower_DeliversEveryFlowWithItsAttribution()
    {
        await using var server = FlowFeedServer.Start(SocketPath);
        using var stop = new CancellationTokenSource();
        var received = new ConcurrentQueue<FlowRecord>();
        var following = Task.Run(async () =>
        {
            await foreach (var flow in FlowFeedClient.FollowAsync(SocketPath, cancel: stop.Token))
            {
                received.Enqueue(flow);
            }
        });
        await Eventually.Until(() => server.Followers == 1, "the follower to connect");
        var flows = Flows();

        server.Publish(flows[..25]);
        server.Publish(flows[25..]);

        await Eventually.Until(() => received.Count == flows.Count, "every flow");
        await stop.CancelAsync();
        await following;
        Assert.Equal(flows.Select(FlowStoreContract.Describe), received.Select(FlowStoreContract.Describe));
        Assert.Equal(flows.Select(f => f.Attribution), received.Select(f => f.Attribution));
        Assert.Equal(flows[3].Attribution, received.ElementAt(3).Attribution);
    }

    [Fact]
    public async Task Follow_BeforeAnyIngest_WaitsThenFollowsAndSeesTheEnd()
    {
        using var stop = new CancellationTokenSource();
        var states = new ConcurrentQueue<FlowFeedClient.State>();
        var received = new ConcurrentQueue<FlowRecord>();
        var following = Task.Run(async () =>
        {
            await foreach (var flow in FlowFeedClient.FollowAsync(SocketPath, states.Enqueue, stop.Token))
            {
                received.Enqueue(flow);
            }
        });
        await Eventually.Until(() => states.Contains(FlowFeedClient.State.Waiting), "the follower to wait");

        await using (var server = FlowFeedServer.Start(SocketPath))
        {
            await Eventually.Until(() => server.Followers == 1, "the follower to connect");
            server.Publish(Flows()[..5]);
            await Eventually.Until(() => received.Count == 5, "the flows");
        }

        await Eventually.Until(() => states.Contains(FlowFeedClient.State.Ended), "the follower to see the ingest end");
        Assert.False(File.Exists(SocketPath));
        await stop.CancelAsync();
        await following;
        Assert.Equal([FlowFeedClient.State.Waiting, FlowFeedClient.State.Following, FlowFeedClient.State.Ended], states.Take(3));
    }

    [Fact]
    public async Task Start_WhileAnotherIngestServes_SaysSo_AndAStaleSocketIsReplaced()
    {
        await using (var server = FlowFeedServer.Start(SocketPath))
        {
            var failure = Assert.Throws<FlowFeedException>(() => FlowFeedServer.Start(SocketPath));
            Assert.Contains("another ingest serves the feed", failure.Message, StringComparison.Ordinal);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SocketPath));
        }

        // An ingest that was killed leaves its socket file behind, which nothing answers; the next one takes its place.
        Assert.False(File.Exists(SocketPath));
        await File.WriteAllTextAsync(SocketPath, string.Empty);
        await using var next = FlowFeedServer.Start(SocketPath);
        Assert.Equal(0, next.Followers);
    }

    [Fact]
    public async Task Publish_ToAFollowerThatStoppedReading_DropsItOnceItsQueueIsFull()
    {
        await using var server = FlowFeedServer.Start(SocketPath);
        using var stalled = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        await stalled.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(SocketPath));
        await Eventually.Until(() => server.Followers == 1, "the follower to connect");
        var flows = Flows();
        var bytesPerRound = flows.Sum(f => FlowFeed.Line(f).Length + 1);

        // Never read: the socket's buffers fill, then the queue, until the follower is let go.
        for (var sent = 0L; sent < 2 * FlowFeedServer.QueueLimitBytes && server.Followers == 1; sent += bytesPerRound)
        {
            server.Publish(flows);
        }

        Assert.Equal(0, server.Followers);
        Assert.Equal(1, server.Dropped);
    }

    [Fact]
    public void Start_PathTooLongForASocket_SaysWhatToDo()
    {
        var failure = Assert.Throws<FlowFeedException>(() => FlowFeedServer.Start(Path.Combine(_folder, new string('a', 120) + ".feed")));
        Assert.Contains("shorter folder", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Line_FlowWithOnlyADestinationAddress_KeepsTheAddress()
    {
        var flow = Flows()[0] with { IpVersion = 0, SourceIp = null };
        Assert.NotNull(flow.DestinationIp);

        var back = FlowFeed.Read(FlowFeed.Line(flow), new Palisade.Flows.Reading.HubbleFlowParser());

        Assert.Equal(flow.DestinationIp, back!.DestinationIp);
        Assert.True(Palisade.Flows.Storage.FlowMatching.Matches(new Palisade.Flows.Storage.FlowQuery { ToIps = [flow.DestinationIpText!] }, back));
    }

    [Fact]
    public void Read_NotAFeedLine_IsNull()
    {
        var parser = new Palisade.Flows.Reading.HubbleFlowParser();
        Assert.Null(FlowFeed.Read("not json", parser));
        Assert.Null(FlowFeed.Read("{\"response\":{\"node_status\":{}}}", parser));
        Assert.NotNull(FlowFeed.Read(FlowFeed.Line(Flows()[0]), parser));
    }
}
