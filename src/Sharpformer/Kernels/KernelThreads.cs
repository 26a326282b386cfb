using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace Sharpformer.Kernels;

/// <summary>
/// A tiny persistent thread team for kernels: the calling thread plus <see cref="Count"/> - 1 workers that spin briefly
/// after each job, then sleep. Decode calls a matmul about 50 times per token and each lasts tens of microseconds, so
/// handing work to an already-spinning thread (well under a microsecond) matters; Parallel.For costs several.
/// A job is a static function pointer over an unmanaged context and a task count; threads claim task indices from a
/// shared counter, so a core that another process steals only delays the task it holds. Nothing is allocated per job.
/// If the team is busy (another thread's job, or a kernel called from inside a task) the job runs inline.
/// </summary>
internal static unsafe class KernelThreads
{
    /// <summary>Caps the thread count, e.g. SHARPFORMER_THREADS=1 for a single-threaded run.</summary>
    public const string EnvironmentVariable = "SHARPFORMER_THREADS";

    // How long an idle worker keeps spinning for the next job before it sleeps: longer than the gaps between
    // the matmuls of one decode step (norms, attention), short enough not to burn a core when generation stops.
    private static readonly long SpinTicks = Stopwatch.Frequency / 5_000; // 200 µs

    private const int Idle = 0, Assigned = 1, Running = 2;

    private static readonly Worker[] Workers;
    private static int _busy;
    private static delegate*<void*, int, void> _body;
    private static void* _context;
    private static int _taskCount;
    private static int _nextTask;
    private static ExceptionDispatchInfo? _failure;

    static KernelThreads()
    {
        int count = Environment.ProcessorCount;
        if (int.TryParse(Environment.GetEnvironmentVariable(EnvironmentVariable), out int requested) && requested > 0)
        {
            count = Math.Min(count, requested);
        }
        Count = Math.Clamp(count, 1, 256);
        Workers = new Worker[Count - 1];
        for (int i = 0; i < Workers.Length; i++)
        {
            Workers[i] = new Worker(i + 1);
        }
    }

    /// <summary>Threads a job can use, the caller included.</summary>
    public static int Count { get; }

    /// <summary>Runs body(context, task) for every task in [0, taskCount) and returns when all are done.</summary>
    public static void Run(delegate*<void*, int, void> body, void* context, int taskCount)
    {
        if (taskCount <= 0)
        {
            return;
        }
        if (taskCount == 1 || Workers.Length == 0 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            for (int task = 0; task < taskCount; task++)
            {
                body(context, task);
            }
            return;
        }
        try
        {
            _body = body;
            _context = context;
            _taskCount = taskCount;
            _nextTask = 0;
            _failure = null;
            int helpers = Math.Min(Workers.Length, taskCount - 1);
            for (int i = 0; i < helpers; i++)
            {
                Workers[i].Assign();
            }
            RunTasks();
            for (int i = 0; i < helpers; i++)
            {
                Workers[i].Join();
            }
            _failure?.Throw();
        }
        finally
        {
            _body = null;
            _context = null;
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary>
    /// Runs body(task) for every task in [0, taskCount): the same team for work written as a closure (attention
    /// heads), without Parallel.For's few microseconds per call.
    /// </summary>
    public static void Run(Action<int> body, int taskCount)
    {
        ArgumentNullException.ThrowIfNull(body);
        var handle = GCHandle.Alloc(body);
        try
        {
            Run(&InvokeAction, (void*)GCHandle.ToIntPtr(handle), taskCount);
        }
        finally
        {
            handle.Free();
        }
    }

    private static void InvokeAction(void* context, int task) => ((Action<int>)GCHandle.FromIntPtr((nint)context).Target!)(task);

    private static void RunTasks()
    {
        int task;
        while ((task = Interlocked.Increment(ref _nextTask) - 1) < _taskCount)
        {
            try
            {
                _body(_context, task);
            }
            catch (Exception exception)
            {
                _failure ??= ExceptionDispatchInfo.Capture(exception);
            }
        }
    }

    private sealed class Worker
    {
        private readonly SemaphoreSlim _wake = new(0);
        private int _state;
        private int _sleeping;

        public Worker(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"Sharpformer kernel worker {index}" };
            thread.Start();
        }

        public void Assign()
        {
            Volatile.Write(ref _state, Assigned);
            if (Interlocked.Exchange(ref _sleeping, 0) == 1)
            {
                _wake.Release();
            }
        }

        /// <summary>Takes the job back if the worker has not started it (all tasks are claimed by now), else waits.</summary>
        public void Join()
        {
            if (Interlocked.CompareExchange(ref _state, Idle, Assigned) == Assigned)
            {
                return;
            }
            while (Volatile.Read(ref _state) == Running)
            {
                Thread.SpinWait(1);
            }
        }

        private void Loop()
        {
            while (true)
            {
                long spinUntil = Stopwatch.GetTimestamp() + SpinTicks;
                while (Volatile.Read(ref _state) != Assigned && Stopwatch.GetTimestamp() < spinUntil)
                {
                    Thread.SpinWait(8);
                }
                if (Volatile.Read(ref _state) != Assigned)
                {
                    // Announce the sleep, then look once more so a job assigned in between is not missed.
                    Interlocked.Exchange(ref _sleeping, 1);
                    if (Volatile.Read(ref _state) == Assigned && Interlocked.Exchange(ref _sleeping, 0) == 1)
                    {
                        continue;
                    }
                    // Either nobody assigned yet, or Assign already cleared _sleeping and released (or will release).
                    _wake.Wait();
                    continue;
                }
                if (Interlocked.CompareExchange(ref _state, Running, Assigned) == Assigned)
                {
                    RunTasks();
                    Volatile.Write(ref _state, Idle);
                }
            }
        }
    }
}
