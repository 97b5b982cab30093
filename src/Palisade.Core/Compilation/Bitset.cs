using System.Numerics;

namespace Palisade.Compilation;

/// <summary>
/// A fixed-size set of small integers (pod groups or identities) as 64-bit words. Mutable while a
/// snapshot is compiled; a compiled snapshot only reads them.
/// </summary>
internal sealed class Bitset : IEquatable<Bitset>
{
    private readonly ulong[] _words;

    public Bitset(int size)
    {
        Size = size;
        _words = new ulong[(size + 63) >> 6];
    }

    private Bitset(int size, ulong[] words)
    {
        Size = size;
        _words = words;
    }

    public int Size { get; }

    public static Bitset Full(int size)
    {
        var set = new Bitset(size);
        set.SetAll();
        return set;
    }

    public bool this[int index]
    {
        get => (_words[index >> 6] & (1UL << index)) != 0;
    }

    public void Set(int index) => _words[index >> 6] |= 1UL << index;

    public void SetAll()
    {
        Array.Fill(_words, ulong.MaxValue);
        TrimTail();
    }

    private void TrimTail()
    {
        var rest = Size & 63;
        if (rest != 0 && _words.Length > 0)
        {
            _words[^1] &= (1UL << rest) - 1;
        }
    }

    public Bitset Clone() => new(Size, (ulong[])_words.Clone());

    public void And(Bitset other)
    {
        for (var i = 0; i < _words.Length; i++)
        {
            _words[i] &= other._words[i];
        }
    }

    public void Or(Bitset other)
    {
        for (var i = 0; i < _words.Length; i++)
        {
            _words[i] |= other._words[i];
        }
    }

    public void AndNot(Bitset other)
    {
        for (var i = 0; i < _words.Length; i++)
        {
            _words[i] &= ~other._words[i];
        }
    }

    public bool IsEmpty
    {
        get
        {
            foreach (var word in _words)
            {
                if (word != 0)
                {
                    return false;
                }
            }

            return true;
        }
    }

    public int Count
    {
        get
        {
            var count = 0;
            foreach (var word in _words)
            {
                count += BitOperations.PopCount(word);
            }

            return count;
        }
    }

    /// <summary>Calls <paramref name="action"/> for every member in ascending order.</summary>
    public void ForEach<TState>(ref TState state, ActionRef<TState> action)
    {
        for (var w = 0; w < _words.Length; w++)
        {
            var word = _words[w];
            while (word != 0)
            {
                var bit = BitOperations.TrailingZeroCount(word);
                action(ref state, (w << 6) + bit);
                word &= word - 1;
            }
        }
    }

    /// <summary>The members in ascending order, enumerated without allocating.</summary>
    public MemberEnumerable Members() => new(_words, null);

    /// <summary>The members that are also members of <paramref name="mask"/>, in ascending order, without allocating.</summary>
    public MemberEnumerable MembersWithin(Bitset mask) => new(_words, mask._words);

    /// <summary>A struct enumerable over the set bits of some words (and of a mask's, when given).</summary>
    public readonly struct MemberEnumerable(ulong[] words, ulong[]? mask)
    {
        public MemberEnumerator GetEnumerator() => new(words, mask);
    }

    /// <summary>Enumerates set bits word by word.</summary>
    public struct MemberEnumerator(ulong[] words, ulong[]? mask)
    {
        private int _word = -1;
        private ulong _bits;

        public int Current { get; private set; }

        public bool MoveNext()
        {
            while (_bits == 0)
            {
                if (++_word >= words.Length)
                {
                    return false;
                }

                _bits = mask is null ? words[_word] : words[_word] & mask[_word];
            }

            Current = (_word << 6) + BitOperations.TrailingZeroCount(_bits);
            _bits &= _bits - 1;
            return true;
        }
    }

    public bool Equals(Bitset? other) => other is not null && Size == other.Size && _words.AsSpan().SequenceEqual(other._words);

    public override bool Equals(object? obj) => Equals(obj as Bitset);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var word in _words)
        {
            hash.Add(word);
        }

        return hash.ToHashCode();
    }
}

/// <summary>A callback that receives its state by reference, so that hot loops allocate no closure.</summary>
internal delegate void ActionRef<TState>(ref TState state, int member);
