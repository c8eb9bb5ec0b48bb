// The ordered parallel map behind `iis embed` and `iis elements`: in-order delivery under uneven
// work, bounded look-ahead, errors delivered at their item's turn.
#include "iis/core/parallel.hpp"

#include <atomic>
#include <chrono>
#include <random>
#include <stdexcept>
#include <thread>

#include "test_support.hpp"

namespace iis::core {
namespace {

TEST(OrderedMap, DeliversInOrderWithinTheLookAhead) {
  std::atomic<int64_t> taken{0}, max_ahead{0};
  const int64_t capacity = 5;
  OrderedMap<int64_t> loader(10, 70, /*threads=*/4, capacity, [&](int64_t i) {
    // Uneven work: later items often finish first.
    std::this_thread::sleep_for(std::chrono::microseconds((i * 7919) % 13 * 150));
    int64_t ahead = i - (10 + taken.load());
    int64_t seen = max_ahead.load();
    while (ahead > seen && !max_ahead.compare_exchange_weak(seen, ahead)) {
    }
    return i * i;
  });
  for (int64_t i = 10; i < 70; ++i) {
    ASSERT_FALSE(loader.done());
    EXPECT_EQ(loader.next(), i * i);
    ++taken;
  }
  EXPECT_TRUE(loader.done());
  EXPECT_LE(max_ahead.load(), capacity);  // `taken` lags next() by one item
}

TEST(OrderedMap, ErrorsArriveAtTheirTurnAndLaterItemsStillFlow) {
  OrderedMap<int> loader(0, 6, /*threads=*/2, /*capacity=*/3, [](int64_t i) {
    if (i == 3) throw std::runtime_error("bad item 3");
    return static_cast<int>(i);
  });
  for (int i = 0; i < 3; ++i) EXPECT_EQ(loader.next(), i);
  try {
    loader.next();
    ADD_FAILURE() << "item 3 should have thrown";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "bad item 3");
  }
  EXPECT_EQ(loader.next(), 4);
}

TEST(OrderedMap, StopsCleanlyWhenAbandoned) {
  std::atomic<int> produced{0};
  {
    OrderedMap<int> loader(0, 1000000, /*threads=*/3, /*capacity=*/8, [&](int64_t i) {
      ++produced;
      return static_cast<int>(i);
    });
    EXPECT_EQ(loader.next(), 0);
  }  // destructor joins the threads without producing the rest
  EXPECT_LE(produced.load(), 1 + 8 + 3);
}

}  // namespace
}  // namespace iis::core
