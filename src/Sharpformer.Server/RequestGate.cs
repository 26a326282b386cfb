namespace Sharpformer.Server;

/// <summary>
/// At most MaxConcurrency requests generate at once; up to MaxQueue more wait for a slot. Past that, Enter returns
/// null (the caller answers 429) so a burst cannot pile up unbounded work.
/// </summary>
public sealed class RequestGate(int maxConcurrency, int maxQueue)
{
    private readonly int _concurrency = Math.Max(1, maxConcurrency);
    private readonly SemaphoreSlim _slots = new(Math.Max(1, maxConcurrency));
    private readonly int _capacity = Math.Max(1, maxConcurrency) + Math.Max(0, maxQueue);
    private int _admitted;

    /// <summary>Requests running or waiting.</summary>
    public int Admitted => Volatile.Read(ref _admitted);

    /// <summary>Requests holding a slot.</summary>
    public int Running => _concurrency - _slots.CurrentCount;

    /// <summary>Requests waiting for a slot (a snapshot: the two counts move independently).</summary>
    public int Waiting => Math.Max(0, Admitted - Running);

    /// <summary>Waits for a slot; null when the queue is full. Dispose the lease to free the slot (idempotent).</summary>
    public async ValueTask<IDisposable?> EnterAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _admitted) > _capacity)
        {
            Interlocked.Decrement(ref _admitted);
            return null;
        }
        try
        {
            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Interlocked.Decrement(ref _admitted);
            throw;
        }
        return new Lease(this);
    }

    private sealed class Lease(RequestGate gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate._slots.Release();
                Interlocked.Decrement(ref gate._admitted);
            }
        }
    }
}
