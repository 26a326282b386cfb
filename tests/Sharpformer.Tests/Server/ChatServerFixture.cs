namespace Sharpformer.Tests.Server;

/// <summary>A server over a copy of the bundled tiny GPT-2 whose tokenizer_config.json carries a ChatML template (Fixtures/chat).</summary>
public sealed class ChatServerFixture : IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("sharpformer-chat-model-").FullName;
    private ServerHost? _host;

    public ServerHost Host => _host ?? throw new InvalidOperationException("not started");

    public async ValueTask InitializeAsync()
    {
        foreach (string file in Directory.GetFiles(ServerHost.GptFolder))
        {
            File.Copy(file, Path.Combine(_folder, Path.GetFileName(file)));
        }
        File.Copy(Fixture.File("chat", "tokenizer_config.json"), Path.Combine(_folder, "tokenizer_config.json"));
        _host = await ServerHost.StartAsync(gptFolder: _folder);
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
        Directory.Delete(_folder, recursive: true);
    }
}
