// A minimal parallel loop for one-off table building (Sigma views, KDE grids) at first use.
#pragma once
#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace fastclnf {

// Runs f(0..count-1) on up to `threads` threads (0: hardware concurrency); rethrows the first
// exception.
template <typename F>
inline void parallel_for(int count, int threads, F f) {
    if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
    threads = std::max(1, std::min({threads, count, 16}));
    if (threads == 1) {
        for (int i = 0; i < count; ++i) f(i);
        return;
    }
    std::atomic<int> next{0};
    std::exception_ptr err;
    std::mutex err_mu;
    auto work = [&]() {
        for (int i; (i = next.fetch_add(1)) < count;) {
            try {
                f(i);
            } catch (...) {
                std::lock_guard<std::mutex> g(err_mu);
                if (!err) err = std::current_exception();
            }
        }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (err) std::rethrow_exception(err);
}

}  // namespace fastclnf
