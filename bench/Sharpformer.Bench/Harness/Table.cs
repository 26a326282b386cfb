namespace Sharpformer.Bench.Harness;

/// <summary>A console table: add rows of cells, then print with every column padded (text left, numbers right).</summary>
public sealed class Table(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public void Add(params object[] cells) => _rows.Add(cells.Select(Format).ToArray());

    public void Print()
    {
        var widths = headers.Select((header, i) => _rows.Select(row => row[i].Length).Append(header.Length).Max()).ToArray();
        Console.WriteLine(string.Join("  ", headers.Select((header, i) => Pad(header, widths[i], i))));
        Console.WriteLine(string.Join("  ", widths.Select(width => new string('-', width))));
        foreach (var row in _rows)
        {
            Console.WriteLine(string.Join("  ", row.Select((cell, i) => Pad(cell, widths[i], i))));
        }
    }

    private static string Pad(string cell, int width, int column) => column == 0 ? cell.PadRight(width) : cell.PadLeft(width);

    private static string Format(object cell) => cell switch
    {
        double value when Math.Abs(value) >= 100 => value.ToString("F0"),
        double value when Math.Abs(value) >= 1 => value.ToString("F1"),
        double value => value.ToString("F2"),
        _ => cell.ToString() ?? "",
    };
}
