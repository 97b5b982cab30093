using System.Collections.Concurrent;
using System.IO.Hashing;
using System.Text;
using Palisade.Flows.Records;
using Palisade.Sets;

namespace Palisade.Flows.Storage;

/// <summary>
/// One end of a flow as a store keeps it, once, in its <c>flow_ends</c> table: the endpoint Cilium
/// reported with the address and the DNS names it was seen with. Flows refer to ends by number, so the
/// labels and names a stream repeats on every line are stored once.
/// </summary>
public sealed record FlowEnd(FlowEndpoint Endpoint, UInt128? Ip, IReadOnlyList<string> Names, FlowService? Service)
{
    /// <summary>A 64-bit digest of everything the end says: its key in the store.</summary>
    public long Hash()
    {
        var text = new StringBuilder();
        var e = Endpoint;
        text.Append(e.EndpointId).Append('\u0001').Append(e.Identity).Append('\u0001').Append(e.ClusterName).Append('\u0001').Append(e.Namespace).Append('\u0001').Append(e.PodName).Append('\u0001');
        foreach (var label in e.Labels)
        {
            text.Append(label).Append('\u0002');
        }

        text.Append('\u0001');
        foreach (var workload in e.Workloads)
        {
            text.Append(workload.Kind).Append('/').Append(workload.Name).Append('\u0002');
        }

        text.Append('\u0001').Append(Ip is { } ip ? IpNumbers.Format(ip) : string.Empty).Append('\u0001');
        foreach (var name in Names)
        {
            text.Append(name).Append('\u0002');
        }

        text.Append('\u0001').Append(Service?.Namespace).Append('/').Append(Service?.Name);
        return (long)XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(text.ToString()));
    }

    /// <summary>The address as text, or null.</summary>
    public string? IpText => Ip is { } ip ? IpNumbers.Format(ip) : null;
}

/// <summary>
/// The numbers a store gives to flow ends and to the strings flows repeat (node names, summaries, URLs,
/// DNS names, policy names), kept in memory beside the store's <c>flow_ends</c> and <c>flow_strings</c>
/// tables, where both are keyed by a 64-bit digest. Before it stores a batch, a store asks what is
/// missing (<see cref="Missing"/>), stores it, learns the numbers it got (<see cref="LoadEnd"/>,
/// <see cref="LoadString"/>), and only then writes the flows, which refer to those numbers. Look-ups
/// may run beside one writer; the store serialises its writers.
/// </summary>
public sealed class FlowDictionary
{
    private readonly ConcurrentDictionary<long, int> _endIds = [];
    // Writers' caches (the store serialises writers): ends by their parts, by value and by identity.
    private readonly Dictionary<FlowEndKey, int> _endsByValue = [];
    private readonly Dictionary<FlowEndKey, int> _endsByReference = new(ReferenceKeys.Instance);
    private readonly Dictionary<string, int> _stringsByReference = new(ReferenceEqualityComparer.Instance);
    private readonly ConcurrentDictionary<int, FlowEnd> _ends = [];
    private readonly ConcurrentDictionary<string, int> _stringIds = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<int, string> _strings = [];

    private readonly List<(int Id, long Hash, FlowEnd End)> _addedEnds = [];
    private readonly List<(int Id, long Hash, string Text)> _addedStrings = [];

    /// <summary>
    /// For a store that is the only writer of its tables (the embedded one): <see cref="EndId"/> and
    /// <see cref="StringId"/> number what they have not seen on the spot, and <see cref="TakeAdded"/>
    /// gives what they numbered, to save before the flows that use it. Without it, a store asks
    /// <see cref="Missing"/> first and numbers what it gives itself.
    /// </summary>
    public bool NumbersNew { get; init; }

    /// <summary>The ends and strings numbered since the last call (with <see cref="NumbersNew"/>); clears them.</summary>
    public (List<(int Id, long Hash, FlowEnd End)> Ends, List<(int Id, long Hash, string Text)> Strings) TakeAdded()
    {
        var taken = (new List<(int, long, FlowEnd)>(_addedEnds), new List<(int, long, string)>(_addedStrings));
        _addedEnds.Clear();
        _addedStrings.Clear();
        return taken;
    }

    /// <summary>Forgets ends and strings numbered but never saved (the store failed to save them).</summary>
    public void Forget(IReadOnlyList<(int Id, long Hash, FlowEnd End)> ends, IReadOnlyList<(int Id, long Hash, string Text)> strings)
    {
        ArgumentNullException.ThrowIfNull(ends);
        ArgumentNullException.ThrowIfNull(strings);
        foreach (var (id, hash, _) in ends)
        {
            _ends.TryRemove(id, out _);
            _endIds.TryRemove(hash, out _);
        }

        foreach (var (id, _, text) in strings)
        {
            _strings.TryRemove(id, out _);
            _stringIds.TryRemove(text, out _);
        }

        _endsByValue.Clear();
        _endsByReference.Clear();
        _stringsByReference.Clear();
        _addedEnds.Clear();
        _addedStrings.Clear();
        MaxEnd = _ends.IsEmpty ? 0 : _ends.Keys.Max();
        MaxString = _strings.IsEmpty ? 0 : _strings.Keys.Max();
    }

    /// <summary>The highest end number known: where a refresh from a shared store starts.</summary>
    public int MaxEnd { get; private set; }

    /// <summary>The highest string number known.</summary>
    public int MaxString { get; private set; }

    /// <summary>How many ends are known.</summary>
    public int EndCount => _ends.Count;

    /// <summary>How many strings are known.</summary>
    public int StringCount => _strings.Count;

    /// <summary>The digest a string is kept under.</summary>
    public static long HashOf(string text) => (long)XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(text ?? throw new ArgumentNullException(nameof(text))));

    /// <summary>The ends and strings of <paramref name="flows"/> the store does not hold yet, each once.</summary>
    public (List<(long Hash, FlowEnd End)> Ends, List<(long Hash, string Text)> Strings) Missing(IReadOnlyList<FlowRecord> flows)
    {
        ArgumentNullException.ThrowIfNull(flows);
        var ends = new List<(long, FlowEnd)>();
        var strings = new List<(long, string)>();
        var seenEnds = new HashSet<long>();
        var seenKeys = new HashSet<FlowEndKey>(ReferenceKeys.Instance);
        var seenStrings = new HashSet<string>(StringComparer.Ordinal);
        foreach (var flow in flows)
        {
            for (var side = 0; side < 2; side++)
            {
                var key = Key(flow, side == 0);
                if (seenKeys.Contains(key) || TryKnown(key, out _))
                {
                    continue;
                }

                seenKeys.Add(key);

                var end = new FlowEnd(key.Endpoint, key.Ip, key.Names, key.Service);
                var hash = end.Hash();
                if (_endIds.TryGetValue(hash, out var id))
                {
                    _endsByValue[key] = id;
                }
                else if (seenEnds.Add(hash))
                {
                    ends.Add((hash, end));
                }
            }

            foreach (var text in FlowColumns.StringsOf(flow))
            {
                if (text is not null && !_stringsByReference.ContainsKey(text) && !_stringIds.ContainsKey(text) && seenStrings.Add(text))
                {
                    strings.Add((HashOf(text), text));
                }
            }
        }

        return (ends, strings);
    }

    /// <summary>Learns an end the store holds under a number.</summary>
    public void LoadEnd(int id, long hash, FlowEnd end)
    {
        ArgumentNullException.ThrowIfNull(end);
        _ends[id] = end;
        _endIds[hash] = id;
        MaxEnd = Math.Max(MaxEnd, id);
    }

    /// <summary>Learns a string the store holds under a number.</summary>
    public void LoadString(int id, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        _strings[id] = text;
        _stringIds[text] = id;
        MaxString = Math.Max(MaxString, id);
    }

    /// <summary>The number of an end of a flow; the store has learnt it (through <see cref="Missing"/>) before.</summary>
    public int EndId(FlowRecord flow, bool source)
    {
        ArgumentNullException.ThrowIfNull(flow);
        var key = Key(flow, source);
        if (TryKnown(key, out var id))
        {
            return id;
        }

        if (!NumbersNew)
        {
            throw new InvalidOperationException("the end was not stored first: call Missing and store what it gives");
        }

        var end = new FlowEnd(key.Endpoint, key.Ip, key.Names, key.Service);
        var hash = end.Hash();
        id = MaxEnd + 1;
        LoadEnd(id, hash, end);
        _addedEnds.Add((id, hash, end));
        return TryKnown(key, out id) ? id : throw new InvalidOperationException("an end just numbered was not found");
    }

    /// <summary>
    /// Finds a known end: by the identity of its endpoint (flows from one parser share endpoint
    /// instances, so most look-ups end here), else by value, else by digest; remembers what it found.
    /// </summary>
    private bool TryKnown(FlowEndKey key, out int id)
    {
        if (_endsByReference.TryGetValue(key, out id))
        {
            return true;
        }

        if (!_endsByValue.TryGetValue(key, out id))
        {
            if (!_endIds.TryGetValue(new FlowEnd(key.Endpoint, key.Ip, key.Names, key.Service).Hash(), out id))
            {
                return false;
            }

            if (_endsByValue.Count > 200_000)
            {
                _endsByValue.Clear();
            }

            _endsByValue[key] = id;
        }

        if (_endsByReference.Count > 200_000)
        {
            _endsByReference.Clear();
        }

        _endsByReference[key] = id;
        return true;
    }

    /// <summary>The number of a string the store has learnt; null for null.</summary>
    public int? StringId(string? text)
    {
        if (text is null)
        {
            return null;
        }

        // Parsers pool their strings, so most look-ups find the very instance.
        if (_stringsByReference.TryGetValue(text, out var id))
        {
            return id;
        }

        if (!_stringIds.TryGetValue(text, out id))
        {
            if (!NumbersNew)
            {
                throw new InvalidOperationException("the string was not stored first: call Missing and store what it gives");
            }

            id = MaxString + 1;
            LoadString(id, text);
            _addedStrings.Add((id, HashOf(text), text));
        }

        if (_stringsByReference.Count > 200_000)
        {
            _stringsByReference.Clear();
        }

        _stringsByReference[text] = id;
        return id;
    }

    /// <summary>The number of a string, or null when the store has never held it.</summary>
    public int? KnownString(string text) => _stringIds.TryGetValue(text, out var id) ? id : null;

    /// <summary>The end with a number; an unknown endpoint when the number is not known (and <see cref="MetUnknown"/> is set).</summary>
    public FlowEnd EndOf(int id)
    {
        if (_ends.TryGetValue(id, out var end))
        {
            return end;
        }

        MetUnknown = true;
        return UnknownEnd;
    }

    /// <summary>The string with a number, or null (and <see cref="MetUnknown"/> is set when the number is not known).</summary>
    public string? StringOf(int? id)
    {
        if (id is not { } n)
        {
            return null;
        }

        if (_strings.TryGetValue(n, out var text))
        {
            return text;
        }

        MetUnknown = true;
        return null;
    }

    /// <summary>
    /// Whether a flow read back named an end or string this dictionary does not hold: a shared store
    /// then reads its ends and strings again in full, since some were stored without its knowing.
    /// </summary>
    public bool MetUnknown
    {
        get => Volatile.Read(ref _metUnknown);
        set => Volatile.Write(ref _metUnknown, value);
    }

    private bool _metUnknown;

    private static readonly FlowEnd UnknownEnd = new(FlowEndpoint.Unknown, null, [], null);

    /// <summary>The numbers of the ends a filter selects.</summary>
    public List<int> EndsWhere(Func<FlowEnd, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        return [.. _ends.Where(e => predicate(e.Value)).Select(static e => e.Key).Order()];
    }

    /// <summary>The numbers of the strings a filter selects.</summary>
    public List<int> StringsWhere(Func<string, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        return [.. _strings.Where(e => predicate(e.Value)).Select(static e => e.Key).Order()];
    }

    private static FlowEndKey Key(FlowRecord flow, bool source) => source
        ? new FlowEndKey(flow.Source, flow.SourceIp, flow.SourceNames, flow.SourceService)
        : new FlowEndKey(flow.Destination, flow.DestinationIp, flow.DestinationNames, flow.DestinationService);

    /// <summary>Compares ends by the identity of their endpoint and the value of the rest: cheap, as parsers share endpoints.</summary>
    private sealed class ReferenceKeys : IEqualityComparer<FlowEndKey>
    {
        public static readonly ReferenceKeys Instance = new();

        public bool Equals(FlowEndKey x, FlowEndKey y) =>
            ReferenceEquals(x.Endpoint, y.Endpoint) && x.Ip == y.Ip && x.Names.SequenceEqual(y.Names) && Equals(x.Service, y.Service);

        public int GetHashCode(FlowEndKey key) =>
            HashCode.Combine(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(key.Endpoint), key.Ip, key.Names.Count > 0 ? key.Names[0].GetHashCode(StringComparison.Ordinal) : 0);
    }

    /// <summary>An end by its parts; equal parts compare by value.</summary>
    private readonly record struct FlowEndKey(FlowEndpoint Endpoint, UInt128? Ip, IReadOnlyList<string> Names, FlowService? Service)
    {
        public bool Equals(FlowEndKey other) =>
            Endpoint.Equals(other.Endpoint) && Ip == other.Ip && Names.SequenceEqual(other.Names) && Equals(Service, other.Service);

        public override int GetHashCode() => HashCode.Combine(Endpoint, Ip, Names.Count);
    }
}
