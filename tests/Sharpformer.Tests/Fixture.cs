namespace Sharpformer.Tests;

/// <summary>Paths of the copied Hugging Face fixtures (tests/Sharpformer.Tests/Fixtures, copied next to the test binary).</summary>
public static class Fixture
{
    public static string Root { get; } = Path.Combine(AppContext.BaseDirectory, "Fixtures");

    public static string File(params string[] parts) => Path.Combine([Root, .. parts]);
}
