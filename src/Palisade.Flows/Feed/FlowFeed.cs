using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Palisade.Flows.Output;
using Palisade.Flows.Reading;
using Palisade.Flows.Records;

namespace Palisade.Flows.Feed;

/// <summary>
/// The live feed of an ingest into an embedded store. A DuckDB file is open in one process at a time,
/// so <c>flows observe --follow</c> cannot read a store an ingest is writing; instead the ingest
/// serves the flows it stores, as Hubble jsonpb lines, on a Unix domain socket beside the file
/// (<c>flows.duckdb.feed</c>), which only the file's owner may open. Followers filter what they get.
/// A line of the feed is <c>{"response": GetFlowsResponse, "attribution": {...}}</c>: Hubble's jsonpb
/// of the flow with what the engine said of it, which jsonpb has no field for.
/// </summary>
public static class FlowFeed
{
    /// <summary>The longest path a Unix domain socket may have on Linux, less its terminating zero.</summary>
    public const int MaxPathLength = 107;

    /// <summary>
    /// Whether the process at the other end of <paramref name="socket"/> runs as this process's user
    /// (Linux's <c>SO_PEERCRED</c>): followers take flows only from an ingest of their own user, and
    /// ingests serve only their own user, whoever can reach the socket's folder.
    /// </summary>
    public static bool SameUser(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (!OperatingSystem.IsLinux())
        {
            return true;
        }

        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        Span<byte> credentials = stackalloc byte[12];
        try
        {
            const int SolSocket = 1, SoPeerCred = 17;
            if (socket.GetRawSocketOption(SolSocket, SoPeerCred, credentials) < 12)
            {
                return false;
            }
        }
        catch (SocketException)
        {
            return false;
        }

        return BitConverter.ToUInt32(credentials[4..8]) == OwnUid.Value;
    }

    private static readonly Lazy<uint> OwnUid = new(static () =>
    {
        // The real uid, from the kernel's own account of this process: "Uid:\treal\teffective\t...".
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
            {
                return uint.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        throw new FlowFeedException("cannot tell this process's user from /proc/self/status");
    });

    /// <summary>The socket of the feed of the DuckDB store at <paramref name="storePath"/>.</summary>
    public static string PathFor(string storePath) => Path.GetFullPath(storePath ?? throw new ArgumentNullException(nameof(storePath))) + ".feed";

    /// <summary>One line of the feed for <paramref name="flow"/>, without its line break.</summary>
    public static string Line(FlowRecord flow)
    {
        ArgumentNullException.ThrowIfNull(flow);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WritePropertyName("response"u8);
            json.WriteRawValue(FlowJson.ToJsonpb(flow), skipInputValidation: true);
            if (flow.Attribution is { } a)
            {
                json.WriteStartObject("attribution"u8);
                json.WriteNumber("verdict"u8, (int)a.Verdict);
                json.WriteString("tier"u8, a.Tier);
                json.WriteString("policy"u8, a.Policy);
                json.WriteString("rule"u8, a.Rule);
                json.WriteNumber("disagreement"u8, (int)a.Disagreement);
                json.WriteString("project"u8, a.Project);
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>The flow a line of the feed carries, or null when the line is not one.</summary>
    public static FlowRecord? Read(string line, HubbleFlowParser parser)
    {
        ArgumentNullException.ThrowIfNull(line);
        ArgumentNullException.ThrowIfNull(parser);
        try
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("response"u8, out var response) ||
                parser.TryParse(Encoding.UTF8.GetBytes(response.GetRawText()), out var flow, out _) != FlowLineKind.Flow || flow is null)
            {
                return null;
            }

            if (!root.TryGetProperty("attribution"u8, out var a) || a.ValueKind != JsonValueKind.Object)
            {
                return flow;
            }

            string? Text(string name) => a.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            int Number(string name) => a.TryGetProperty(name, out var v) && v.TryGetInt32(out var n) ? n : 0;
            return flow with
            {
                Attribution = new FlowAttribution
                {
                    Verdict = (EngineVerdict)Number("verdict"),
                    Tier = Text("tier"),
                    Policy = Text("policy"),
                    Rule = Text("rule"),
                    Disagreement = (Disagreement)Number("disagreement"),
                    Project = Text("project"),
                },
            };
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>Why a feed cannot be served: another ingest serves it, or its path is too long for a socket.</summary>
public sealed class FlowFeedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public FlowFeedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public FlowFeedException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>Creates the exception with no message.</summary>
    public FlowFeedException()
    {
    }
}

/// <summary>
/// Serves an ingest's new flows to followers. Each follower may have up to 64 MiB of flows waiting to be
/// sent; one that falls further behind (a paused terminal, a slow pipe) is disconnected rather than
/// slowing the ingest or filling its memory, and may connect again. Flows are written out only while
/// someone follows. Only processes of the user running the ingest may follow it.
/// </summary>
public sealed class FlowFeedServer : IAsyncDisposable
{
    /// <summary>How many bytes of flows may wait for one follower.</summary>
    public const long QueueLimitBytes = 64L * 1024 * 1024;
    private readonly Socket _listener;
    private readonly string _path;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly List<Task> _pumps = [];
    private readonly Lock _gate = new();
    private readonly List<Follower> _followers = [];
    private readonly Task _accepting;

    private FlowFeedServer(Socket listener, string path)
    {
        _listener = listener;
        _path = path;
        _accepting = Task.Run(AcceptAsync);
    }

    /// <summary>How many followers are connected.</summary>
    public int Followers
    {
        get
        {
            lock (_gate)
            {
                return _followers.Count;
            }
        }
    }

    /// <summary>How many followers were disconnected for falling behind.</summary>
    public int Dropped { get; private set; }

    /// <summary>
    /// Serves the feed on <paramref name="path"/>, readable and writable by this user only. A socket
    /// left by an ingest that ended is replaced; one that answers belongs to a running ingest, and
    /// <see cref="FlowFeedException"/> says so.
    /// </summary>
    public static FlowFeedServer Start(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Encoding.UTF8.GetByteCount(path) > FlowFeed.MaxPathLength)
        {
            throw new FlowFeedException($"the feed socket path {path} is longer than a socket path may be ({FlowFeed.MaxPathLength} bytes); keep the store in a shorter folder");
        }

        if (File.Exists(path))
        {
            if (new FileInfo(path).LinkTarget is not null)
            {
                throw new FlowFeedException($"{path} is a symbolic link; a feed socket is never one: remove it");
            }

            if (Answers(path))
            {
                throw new FlowFeedException($"another ingest serves the feed at {path}");
            }

            File.Delete(path);
        }

        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            listener.Listen(16);
        }
        catch (Exception failure) when (failure is SocketException or IOException or UnauthorizedAccessException)
        {
            listener.Dispose();
            throw new FlowFeedException($"cannot serve the feed at {path}: {failure.Message}", failure);
        }

        return new FlowFeedServer(listener, path);
    }

    private static bool Answers(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Hands new flows to every follower, as jsonpb lines; nothing is written when nobody follows.</summary>
    public void Publish(IReadOnlyList<FlowRecord> flows)
    {
        ArgumentNullException.ThrowIfNull(flows);
        Follower[] followers;
        lock (_gate)
        {
            if (_followers.Count == 0 || flows.Count == 0)
            {
                return;
            }

            followers = [.. _followers];
        }

        var text = new StringBuilder(flows.Count * 1024);
        foreach (var flow in flows)
        {
            text.Append(FlowFeed.Line(flow)).Append('\n');
        }

        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        foreach (var follower in followers)
        {
            if (Interlocked.Add(ref follower.Queued, bytes.Length) > QueueLimitBytes || !follower.Queue.Writer.TryWrite(bytes))
            {
                // Too far behind: better a follower that reconnects than an ingest that waits or runs out
                // of memory. Closing its socket ends its pump, which lets the queue go.
                Dropped++;
                Remove(follower);
                follower.Queue.Writer.TryComplete();
                follower.Socket.Dispose();
            }
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception failure) when (failure is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            if (!FlowFeed.SameUser(client))
            {
                client.Dispose();
                continue;
            }

            var follower = new Follower(client, Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true }));
            lock (_gate)
            {
                _pumps.RemoveAll(static p => p.IsCompleted);
                _followers.Add(follower);
                _pumps.Add(Task.Run(() => PumpAsync(follower)));
            }
        }
    }

    private async Task PumpAsync(Follower follower)
    {
        try
        {
            using var stream = new NetworkStream(follower.Socket, ownsSocket: true);
            await foreach (var bytes in follower.Queue.Reader.ReadAllAsync(_abort.Token).ConfigureAwait(false))
            {
                await stream.WriteAsync(bytes, _abort.Token).ConfigureAwait(false);
                Interlocked.Add(ref follower.Queued, -bytes.Length);
            }
        }
        catch (Exception failure) when (failure is IOException or SocketException or OperationCanceledException or ObjectDisposedException or FlowFeedException)
        {
            // The follower left, fell behind, or the feed stops: either way it is done.
        }
        finally
        {
            Remove(follower);
            follower.Socket.Dispose();
        }
    }

    private void Remove(Follower follower)
    {
        lock (_gate)
        {
            _followers.Remove(follower);
        }
    }

    /// <summary>
    /// Stops serving: followers get what was published to them (for up to five seconds) and then see the
    /// feed end, and the socket file is removed.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _accepting.ConfigureAwait(false);
        Task[] pumps;
        lock (_gate)
        {
            foreach (var follower in _followers)
            {
                follower.Queue.Writer.TryComplete();
            }

            pumps = [.. _pumps];
        }

        var drained = Task.WhenAll(pumps);
        if (await Task.WhenAny(drained, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false) != drained)
        {
            await _abort.CancelAsync().ConfigureAwait(false);
        }

        await drained.ConfigureAwait(false);
        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
            // Left behind, it is replaced by the next ingest.
        }

        _stop.Dispose();
        _abort.Dispose();
    }

    private sealed class Follower(Socket socket, Channel<byte[]> queue)
    {
        /// <summary>Bytes queued and not yet sent.</summary>
        public long Queued;

        public Socket Socket { get; } = socket;

        public Channel<byte[]> Queue { get; } = queue;
    }
}

/// <summary>Reads an ingest's feed: its flows as they are stored, waiting for an ingest when none serves the feed.</summary>
public static class FlowFeedClient
{
    /// <summary>What a follower is doing, for people.</summary>
    public enum State
    {
        /// <summary>No ingest serves the feed; trying again every second.</summary>
        Waiting,

        /// <summary>Connected to an ingest.</summary>
        Following,

        /// <summary>The ingest stopped serving (it ended, or this follower fell behind).</summary>
        Ended,
    }

    /// <summary>
    /// The flows the feed at <paramref name="path"/> carries, until cancelled: when no ingest serves it,
    /// or the one that did ends, it waits for the next. Lines that are not flows are skipped.
    /// </summary>
    public static async IAsyncEnumerable<FlowRecord> FollowAsync(string path, Action<State>? status = null, [EnumeratorCancellation] CancellationToken cancel = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Encoding.UTF8.GetByteCount(path) > FlowFeed.MaxPathLength)
        {
            throw new FlowFeedException($"the feed socket path {path} is longer than a socket path may be ({FlowFeed.MaxPathLength} bytes); keep the store in a shorter folder");
        }

        var parser = new HubbleFlowParser();
        var waiting = false;
        while (!cancel.IsCancellationRequested)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancel).ConfigureAwait(false);
            }
            catch (Exception failure) when (failure is SocketException or OperationCanceledException)
            {
                socket.Dispose();
                if (cancel.IsCancellationRequested)
                {
                    yield break;
                }

                if (!waiting)
                {
                    status?.Invoke(State.Waiting);
                    waiting = true;
                }

                if (!await Pause(cancel).ConfigureAwait(false))
                {
                    yield break;
                }

                continue;
            }

            if (!FlowFeed.SameUser(socket))
            {
                socket.Dispose();
                throw new FlowFeedException($"the process serving {path} runs as another user; not following it");
            }

            waiting = false;
            status?.Invoke(State.Following);
            using (var reader = new StreamReader(new NetworkStream(socket, ownsSocket: true), Encoding.UTF8))
            {
                while (true)
                {
                    string? line;
                    try
                    {
                        line = await reader.ReadLineAsync(cancel).ConfigureAwait(false);
                    }
                    catch (Exception failure) when (failure is IOException or OperationCanceledException)
                    {
                        line = null;
                    }

                    if (line is null)
                    {
                        break;
                    }

                    if (FlowFeed.Read(line, parser) is { } flow)
                    {
                        yield return flow;
                    }
                }
            }

            if (cancel.IsCancellationRequested)
            {
                yield break;
            }

            status?.Invoke(State.Ended);
        }
    }

    private static async Task<bool> Pause(CancellationToken cancel)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(1), cancel).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
