"""Landing-page planner: a visitor's company, role, goals and website -> a typed `MarketingPlan`."""
