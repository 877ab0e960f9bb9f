"""Closed vocabularies of SPEC §1 (the values stored and shown, in Chinese)."""

STAGES = ("幼儿园", "小学", "初中", "高中", "中职", "特教", "通用学段")
# How a figure for all stages (a blank 学段) is shown, and accepted back in a 学段 cell.
ALL_STAGES = "全部学段"
SUBJECTS = (
    "学前教育", "语文", "数学", "英语", "物理", "化学", "生物", "历史", "地理", "道德与法治",
    "思想政治", "科学", "信息技术", "音乐", "美术", "体育与健康", "心理健康教育", "劳动教育",
    "综合实践活动", "特殊教育", "其他",
)
TITLES = ("正高级教师", "高级教师", "一级教师", "二级教师", "三级教师", "未定级")
CERT_STATUSES = ("已通过", "未审核", "未通过")
CERT_PASSED = "已通过"
CERT_PENDING = "未审核"
CERT_REJECTED = "未通过"
SCHOOL_KINDS = ("学校", "教研机构", "电教机构", "进修机构", "其他")
URBAN_RURAL = ("城区", "镇区", "乡村")
REGION_KINDS = ("province", "prefecture", "county", "zone")
REGION_KIND_LABELS = {"province": "省级", "prefecture": "地市级", "county": "区县级", "zone": "功能区"}

ROLE_REGION_SUPER = "region_super"
ROLE_REGION_TRAINING = "region_training"
ROLE_SCHOOL_ADMIN = "school_admin"
ROLES = (ROLE_REGION_SUPER, ROLE_REGION_TRAINING, ROLE_SCHOOL_ADMIN)
ROLE_LABELS = {
    ROLE_REGION_SUPER: "区域超级管理员",
    ROLE_REGION_TRAINING: "区域教师研修管理员",
    ROLE_SCHOOL_ADMIN: "学校管理员",
}
