// Hostile rules and contexts: the engine reports errors (or flagd's null) and never crashes,
// and its work is bounded (logic.h contract: EvalLimits max_steps / max_build, "too deep" at
// compile, runtime failures are errors). No timing is asserted; the budgets make the bad cases
// fail instead of running away.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "common/eval/logic.h"
#include "common/eval/ops.h"
#include "common/eval/resolver.h"
#include "eval_test_util.h"

namespace ff::eval::test {
namespace {

// {"!":[{"!":[ ... true ... ]}]} with `depth` negations.
Json negations(std::size_t depth) {
  Json rule = true;
  for (std::size_t i = 0; i < depth; ++i) {
    Json wrapped = Json::object();
    wrapped["!"] = Json::array({std::move(rule)});
    rule = std::move(wrapped);
  }
  return rule;
}

Json range(int n) {
  Json a = Json::array();
  for (int i = 0; i < n; ++i) a.push_back(i);
  return a;
}

TEST(Hostile, DeepNestingIsRejectedAtCompile) {
  // logic.h: compile errors include "too deep"; a rule 100000 levels deep must not recurse
  // the stack away.
  auto compiled = Rule::compile(negations(100'000));
  ASSERT_FALSE(compiled.ok());
  EXPECT_FALSE(compiled.error().code.empty());
}

TEST(Hostile, ModerateNestingWorks) {
  // 50 levels (inside the 64-level parse limit of json.h) compile and evaluate: an even number
  // of negations of true is true, an odd number false.
  auto even = run(negations(50));
  ASSERT_TRUE(even.ok()) << even.error().to_string();
  EXPECT_EQ(*even, Json(true));
  auto odd = run(negations(49));
  ASSERT_TRUE(odd.ok()) << odd.error().to_string();
  EXPECT_EQ(*odd, Json(false));
}

TEST(Hostile, DeepContextOnlyWalksThePath) {
  // A context nested 2000 levels deep; `var` reads three levels and returns a scalar.
  Json ctx = 1;
  for (int i = 0; i < 2000; ++i) ctx = Json{{"a", std::move(ctx)}};
  ctx["a"]["a"]["x"] = "found";
  auto r = run(j(R"({"var":"a.a.x"})"), ctx);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(*r, Json("found"));
}

TEST(Hostile, HugeArrayWithinBudget) {
  // 100000 elements: membership is linear and within the default budget of 1000000 steps.
  Json ctx = Json::object();
  ctx["arr"] = range(100'000);
  auto hit = run(j(R"({"in":[99999,{"var":"arr"}]})"), ctx);
  ASSERT_TRUE(hit.ok()) << hit.error().to_string();
  EXPECT_EQ(*hit, Json(true));
  auto miss = run(j(R"({"in":[-1,{"var":"arr"}]})"), ctx);
  ASSERT_TRUE(miss.ok()) << miss.error().to_string();
  EXPECT_EQ(*miss, Json(false));
}

TEST(Hostile, StepBudgetStopsLargeIterations) {
  // logic.h EvalLimits::max_steps bounds operator applications and array elements visited.
  Json ctx = Json::object();
  ctx["arr"] = range(10'000);
  EvalLimits tight;
  tight.max_steps = 1'000;
  auto r = run(j(R"({"filter":[{"var":"arr"},{">=":[{"var":""},0]}]})"), ctx, "f", 0, tight);
  EXPECT_FALSE(r.ok());
  // The same iteration fits the default budget.
  auto ok = run(j(R"({"filter":[{"var":"arr"},{">=":[{"var":""},5000]}]})"), ctx);
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  EXPECT_EQ(ok->size(), 5000u);
}

TEST(Hostile, NestedIterationExceedsDefaultBudget) {
  // 1000 outer elements, each a 1100-element array filtered in full: about 1.1e6 element visits
  // plus the predicate's operator applications, above the default budget of 1e6 steps.
  const Json inner = range(1'100);
  Json ctx = Json::object();
  ctx["data"] = Json::array();
  for (int i = 0; i < 1'000; ++i) ctx["data"].push_back(inner);
  const Json rule = j(R"({"map":[{"var":"data"},{"filter":[{"var":""},{">=":[{"var":""},0]}]}]})");
  EXPECT_FALSE(run(rule, ctx).ok());
  // A tenth of the data fits the same budget.
  Json small = Json::object();
  small["data"] = Json::array();
  for (int i = 0; i < 100; ++i) small["data"].push_back(inner);
  auto ok = run(rule, small);
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  ASSERT_EQ(ok->size(), 100u);
  EXPECT_EQ((*ok)[99].size(), 1'100u);
}

TEST(Hostile, BuildBudgetStopsStringDoubling) {
  // logic.h EvalLimits::max_build: a reduce that doubles a string 64 times (2^64 bytes) must
  // fail instead of exhausting memory.
  Json ctx = Json::object();
  ctx["xs"] = range(64);
  auto r = run(
      j(R"({"reduce":[{"var":"xs"},{"cat":[{"var":"accumulator"},{"var":"accumulator"}]},"x"]})"),
      ctx);
  EXPECT_FALSE(r.ok());
}

TEST(Hostile, BuildBudgetStopsArrayDoubling) {
  Json ctx = Json::object();
  ctx["xs"] = range(64);
  auto r = run(
      j(R"({"reduce":[{"var":"xs"},{"merge":[{"var":"accumulator"},{"var":"accumulator"}]},[1]]})"),
      ctx);
  EXPECT_FALSE(r.ok());
}

TEST(Hostile, DivisionByZeroIsAnError) {
  // logic.h contract: dividing by zero is a runtime error.
  EXPECT_TRUE(fails(R"({"/":[1,0]})"));
  EXPECT_TRUE(fails(R"({"/":[0,0]})"));
  EXPECT_TRUE(fails(R"({"%":[5,0]})"));
  EXPECT_TRUE(fails(R"({"/":[{"var":"a"},{"var":"b"}]})", R"({"a":1,"b":0})"));
  EXPECT_TRUE(fails(R"({"%":[{"var":"a"},{"var":"b"}]})", R"({"a":1,"b":0.0})"));
}

TEST(Hostile, ComparingObjectsIsFalseNotAnError) {
  // flagd Go (diegoholiveira/jsonlogic), the reference (docs/compatibility.md): an object or
  // array equals and orders with nothing; flagd-core throws for some operand orders only.
  EXPECT_TRUE(evals_to(R"({"<":[{"var":"o"},1]})", R"({"o":{"a":1}})", "false"));
  EXPECT_TRUE(evals_to(R"({">":[{"var":"o"},{"var":"o"}]})", R"({"o":{"a":1}})", "false"));
  EXPECT_TRUE(evals_to(R"({"==":[{"var":"o"},1]})", R"({"o":{"a":1}})", "false"));
  EXPECT_TRUE(evals_to(R"({"!=":[{"var":"o"},1]})", R"({"o":{"a":1}})", "true"));
  // A non-numeric string against a number is simply false, in either operand order.
  EXPECT_TRUE(evals_to(R"({"<":[{"var":"s"},5]})", R"({"s":"abc"})", "false"));
  EXPECT_TRUE(evals_to(R"({"<":[5,{"var":"s"}]})", R"({"s":"abc"})", "false"));
  // null equals only null.
  EXPECT_TRUE(evals_to(R"({"==":[0,{"var":"missing"}]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"==":[{"var":"missing"},null]})", "{}", "true"));
}

TEST(Hostile, WrongTypesAreErrors) {
  // logic.h contract: arithmetic on a non-number string is an error.
  EXPECT_TRUE(fails(R"({"+":["abc",1]})"));
  EXPECT_TRUE(fails(R"({"*":[{"var":"s"},2]})", R"({"s":"two"})"));
  EXPECT_TRUE(fails(R"({"-":["a",1]})"));
}

TEST(Hostile, CustomOperatorsReturnNullOnGarbage) {
  // flagd-notes §2: custom operators return null on bad input, never false and never an error.
  const char* const rules[] = {
      R"({"sem_ver":[{"var":"o"},"=","1.0.0"]})",
      R"({"sem_ver":[[1,2],"=",{"var":"o"}]})",
      R"({"sem_ver":"1.0.0"})",
      R"({"starts_with":[{"var":"o"},{"var":"o"}]})",
      R"({"ends_with":[[1],"1"]})",
      R"({"starts_with":"abc"})",
      R"({"fractional":[{"var":"targetingKey"},["a",{"var":"o"}]]})",
      R"({"fractional":[{"var":"targetingKey"},["a",1e300],["b",1e300]]})",
      R"({"fractional":[{"var":"targetingKey"},["a",-1e300]]})",
  };
  const Json ctx = j(R"({"o":{"k":[1,{"z":null}]},"targetingKey":"u-1"})");
  for (const char* rule : rules) {
    auto r = run(j(rule), ctx);
    ASSERT_TRUE(r.ok()) << rule << ": " << r.error().to_string();
    EXPECT_TRUE(r->is_null()) << rule << " -> " << r->dump();
  }
}

TEST(Hostile, GarbageNeverCrashes) {
  // Operators fed values of the wrong shape: any Error (with a code) or any value is acceptable,
  // a crash is not.
  const char* const rules[] = {
      R"({"var":{"a":1}})",
      R"({"var":[[1],2]})",
      R"({"var":"a.b.c.d.e.f"})",
      R"({"missing":{"var":"n"}})",
      R"({"missing":[{"var":"o"}]})",
      R"({"missing_some":["x",{"var":"o"}]})",
      R"({"missing_some":[1]})",
      R"({"substr":[{"var":"o"},1]})",
      R"({"substr":["abc",{"var":"o"}]})",
      R"({"substr":["abc",1e300,-1e300]})",
      R"({"in":["a",5]})",
      R"({"in":["a",{"var":"o"}]})",
      R"({"in":[{"var":"o"},["a"]]})",
      R"({"cat":[{"var":"o"},[1,[2]]]})",
      R"({"merge":[{"var":"o"},"s",null]})",
      R"({"map":["not an array",{"var":""}]})",
      R"({"map":[{"var":"o"},{"var":""}]})",
      R"({"filter":[5,true]})",
      R"({"reduce":[{"var":"o"},{"var":"current"}]})",
      R"({"reduce":[[1,2]]})",
      R"({"all":[{"var":"o"},true]})",
      R"({"some":["abc",true]})",
      R"({"none":[null,true]})",
      R"({"min":[{"var":"o"},"x"]})",
      R"({"max":[]})",
      R"({"min":[]})",
      R"({"==":[{"var":"o"},[1]]})",
      R"({"===":[{"var":"o"},{"var":"o"}]})",
      R"({"!":[]})",
      R"({"if":[{"var":"o"}]})",
      R"({"<":[1]})",
      R"({"<=":[1,2,3,4]})",
      R"({"+":[1e308,1e308]})",
      R"({"*":[-1e308,1e308]})",
      R"({"-":[]})",
      R"({"/":[1]})",
      R"({"%":[]})",
      R"({"and":[]})",
      R"({"or":[]})",
      R"({"fractional":[]})",
      R"({"fractional":"x"})",
      R"({"fractional":[{"var":"o"},["a",1]]})",
      R"({"fractional":[["a",1],["b"],[],[null,1]]})",
  };
  const Json ctx = j(R"({"o":{"k":[1,{"z":null}]},"n":7,"targetingKey":"u-1"})");
  for (const char* rule : rules) {
    auto compiled = Rule::compile(j(rule));
    if (!compiled) {
      EXPECT_FALSE(compiled.error().code.empty()) << rule;
      continue;
    }
    auto r = compiled->evaluate(ctx, Env{"f", 0});
    if (!r) {
      EXPECT_FALSE(r.error().code.empty()) << rule;
    }
  }
}

TEST(Hostile, HostileFlagDoesNotAffectOthers) {
  // flagd-notes §1: a targeting failure is that flag's PARSE_ERROR; the rest resolve.
  auto engine = make_engine(R"({"flags":{
    "bomb":{"state":"ENABLED","variants":{"a":"a"},"defaultVariant":"a",
      "targeting":{"reduce":[{"var":"xs"},{"cat":[{"var":"accumulator"},{"var":"accumulator"}]},
        "x"]}},
    "div":{"state":"ENABLED","variants":{"a":"a"},"defaultVariant":"a",
      "targeting":{"/":[1,{"var":"zero"}]}},
    "fine":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"off",
      "targeting":{"if":[{"in":[{"var":"tier"},["gold"]]},"on","off"]}}}})");
  ASSERT_NE(engine, nullptr);
  Json ctx = Json::object();
  ctx["xs"] = range(64);
  ctx["zero"] = 0;
  ctx["tier"] = "gold";
  EXPECT_TRUE(no_value(engine->resolve("bomb", ctx, 0), Reason::kError, ErrorCode::kParseError));
  EXPECT_TRUE(no_value(engine->resolve("div", ctx, 0), Reason::kError, ErrorCode::kParseError));
  EXPECT_TRUE(resolved(engine->resolve("fine", ctx, 0), Reason::kTargetingMatch, "on", "true"));
  std::vector<Resolution> all;
  engine->resolve_all(ctx, 0, all);
  ASSERT_EQ(all.size(), 3u);
}

TEST(Hostile, LongStrings) {
  // A 1 MB context string goes through cat/substr/starts_with/in without trouble.
  Json ctx = Json::object();
  ctx["s"] = std::string(1 << 20, 'a') + "needle";
  auto r = run(j(R"({"and":[{"ends_with":[{"var":"s"},"needle"]},{"in":["aneedle",{"var":"s"}]},)"
                 R"({"==":[{"substr":[{"var":"s"},-6]},"needle"]}]})"),
               ctx);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(*r, Json(true));
  // Hashing a long bucketing value is fine too (and deterministic).
  const std::string big(1 << 20, 'k');
  EXPECT_EQ(murmur3_x86_32(big), murmur3_x86_32(big));
}

TEST(Hostile, ConcurrentEvaluationIsConsistent) {
  // logic.h: "Thread-safe: a Rule is immutable after compile".
  auto rule = Rule::compile(j(R"({"fractional":[{"var":"targetingKey"},)"
                              R"(["lower",50],["upper",50]]})"));
  ASSERT_TRUE(rule.ok()) << rule.error().to_string();
  const Rule& shared = *rule;
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&shared, &mismatches, t] {
      const Json lower = j(R"({"targetingKey":"ejOoVL"})");
      const Json upper = j(R"({"targetingKey":"ceQdGm"})");
      for (int i = 0; i < 2000; ++i) {
        auto a = shared.evaluate(lower, Env{"f", 0});
        auto b = shared.evaluate(upper, Env{"f", 0});
        if (!a.ok() || *a != Json("lower") || !b.ok() || *b != Json("upper")) ++mismatches[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace ff::eval::test
