namespace Sharpformer.Tensors;

/// <summary>A small seedable generator (xoshiro128** seeded by splitmix64), the same stream on every platform.</summary>
public sealed class Rng
{
    private uint _s0, _s1, _s2, _s3;

    public Rng(ulong seed)
    {
        ulong x = seed;
        _s0 = (uint)SplitMix(ref x);
        _s1 = (uint)SplitMix(ref x);
        _s2 = (uint)SplitMix(ref x);
        _s3 = (uint)SplitMix(ref x);
        if ((_s0 | _s1 | _s2 | _s3) == 0)
        {
            _s0 = 1;
        }
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public uint NextUInt32()
    {
        uint result = uint.RotateLeft(_s1 * 5, 7) * 9;
        uint t = _s1 << 9;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = uint.RotateLeft(_s3, 11);
        return result;
    }

    /// <summary>The generator's whole state, to save with a training checkpoint so a resumed run draws the same numbers.</summary>
    public RngState State
    {
        get => new(_s0, _s1, _s2, _s3);
        set
        {
            if ((value.S0 | value.S1 | value.S2 | value.S3) == 0)
            {
                throw new ArgumentException("an all-zero xoshiro state never leaves zero", nameof(value));
            }
            (_s0, _s1, _s2, _s3) = (value.S0, value.S1, value.S2, value.S3);
        }
    }

    /// <summary>Uniform in [0, 1) with 24 bits of precision.</summary>
    public float NextFloat() => (NextUInt32() >> 8) * (1.0f / 16777216.0f);

    /// <summary>Uniform in [0, 1) with 53 bits of precision.</summary>
    public double NextDouble() => (((ulong)NextUInt32() << 21) ^ (NextUInt32() >> 11)) * (1.0 / 9007199254740992.0);

    /// <summary>Uniform integer in [0, maxExclusive).</summary>
    public int NextInt(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        return (int)((ulong)NextUInt32() * (ulong)maxExclusive >> 32);
    }

    /// <summary>Standard normal (Box-Muller).</summary>
    public float NextNormal()
    {
        double u1 = 1.0 - NextDouble();
        double u2 = NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }

    public void FillNormal(Span<float> destination, float scale = 1f)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = NextNormal() * scale;
        }
    }

    public void FillUniform(Span<float> destination, float low, float high)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = low + (high - low) * NextFloat();
        }
    }

    /// <summary>True with probability <paramref name="probability"/>.</summary>
    public bool NextBernoulli(double probability) => NextDouble() < probability;

    /// <summary>Poisson(<paramref name="lambda"/>) by Knuth's product of uniforms (fine for the small λ of span masking).</summary>
    public int NextPoisson(double lambda)
    {
        if (!(lambda > 0 && lambda <= 500))
        {
            throw new ArgumentOutOfRangeException(nameof(lambda), lambda, "Poisson lambda must be in (0, 500].");
        }
        double limit = Math.Exp(-lambda);
        double product = NextDouble();
        int count = 0;
        while (product > limit)
        {
            product *= NextDouble();
            count++;
        }
        return count;
    }

    /// <summary>Fisher-Yates shuffle in place.</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>A uniformly random permutation of 0 … <paramref name="count"/>-1.</summary>
    public int[] Permutation(int count)
    {
        int[] order = new int[count];
        for (int i = 0; i < count; i++)
        {
            order[i] = i;
        }
        Shuffle<int>(order);
        return order;
    }
}

/// <summary>The four 32-bit words of an <see cref="Rng"/>; <see cref="ToString"/> and <see cref="Parse"/> round-trip them as hex.</summary>
public readonly record struct RngState(uint S0, uint S1, uint S2, uint S3)
{
    public override string ToString() => $"{S0:x8}{S1:x8}{S2:x8}{S3:x8}";

    public static RngState Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length != 32 || !UInt128.TryParse(text, System.Globalization.NumberStyles.AllowHexSpecifier, null, out var value))
        {
            throw new FormatException($"'{text}' is not a random generator state (32 hex digits)");
        }
        return new((uint)(value >> 96), (uint)(value >> 64), (uint)(value >> 32), (uint)value);
    }
}
